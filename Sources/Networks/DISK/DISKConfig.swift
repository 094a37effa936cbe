// Options and errors of the DISK detector (DISK.swift).

/// DISK options, with LightGlue's defaults (lightglue/disk.py, passed to kornia.feature.DISK).
public struct DISKConfig: Sendable, Equatable {
    /// Keep at most this many keypoints (the strongest, listed in raster order); -1 keeps all.
    public var maxKeypoints: Int = -1
    /// A keypoint's heatmap logit must be strictly above this.
    public var detectionThreshold: Float = 0
    /// Side of the strict-maximum window (odd or even, as kornia allows).
    public var nmsWindowSize: Int = 5
    /// Pad the image with zeros at the bottom and right to a multiple of 16 (otherwise such
    /// images are refused, as kornia does).
    public var padIfNotDivisible: Bool = true

    public init(maxKeypoints: Int = -1, detectionThreshold: Float = 0, nmsWindowSize: Int = 5, padIfNotDivisible: Bool = true) {
        self.maxKeypoints = maxKeypoints
        self.detectionThreshold = detectionThreshold
        self.nmsWindowSize = nmsWindowSize
        self.padIfNotDivisible = padIfNotDivisible
    }

    public func validate() throws {
        if maxKeypoints < -1 { throw DISKError.invalidConfig("maxKeypoints must be >= 0 or -1 (no limit), got \(maxKeypoints)") }
        if nmsWindowSize < 1 || nmsWindowSize > 31 {
            throw DISKError.invalidConfig("nmsWindowSize must be in 1...31, got \(nmsWindowSize)")
        }
        if !detectionThreshold.isFinite {
            throw DISKError.invalidConfig("detectionThreshold must be finite, got \(detectionThreshold)")
        }
    }
}

/// Errors thrown by ``DISK``.
public enum DISKError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidConfig(String)
    case invalidImage(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid DISK configuration: \(message)"
        case let .invalidImage(message): return "invalid DISK input image: \(message)"
        }
    }
}
