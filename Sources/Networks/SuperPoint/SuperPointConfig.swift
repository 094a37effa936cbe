// Configuration and errors of the SuperPoint detector (SuperPoint.swift).

/// SuperPoint options, with the reference's defaults.
public struct SuperPointConfig: Sendable, Equatable {
    /// Length of a descriptor (`convDb`'s output channels); must match the weights.
    public var descriptorDim: Int = 256
    /// Non-maximum suppression radius in pixels (window `2r + 1`).
    public var nmsRadius: Int = 4
    /// Keypoints need a score strictly above this after NMS.
    public var keypointThreshold: Float = 0.005
    /// Keep at most this many keypoints (highest scores first); -1 keeps all.
    public var maxKeypoints: Int = -1
    /// Keypoints closer than this to the edge of the `8h x 8w` score map are dropped.
    public var removeBorders: Int = 4

    public init(descriptorDim: Int = 256, nmsRadius: Int = 4, keypointThreshold: Float = 0.005,
                maxKeypoints: Int = -1, removeBorders: Int = 4) {
        self.descriptorDim = descriptorDim
        self.nmsRadius = nmsRadius
        self.keypointThreshold = keypointThreshold
        self.maxKeypoints = maxKeypoints
        self.removeBorders = removeBorders
    }

    /// Throws ``SuperPointError/invalidConfig(_:)`` for values the reference rejects
    /// (`max_keypoints` 0 or below -1, negative `nms_radius`) or that make no sense.
    public func validate() throws {
        if maxKeypoints == 0 || maxKeypoints < -1 {
            throw SuperPointError.invalidConfig("maxKeypoints must be positive or -1 (keep all), got \(maxKeypoints)")
        }
        if nmsRadius < 0 { throw SuperPointError.invalidConfig("nmsRadius must be >= 0, got \(nmsRadius)") }
        if descriptorDim <= 0 { throw SuperPointError.invalidConfig("descriptorDim must be positive, got \(descriptorDim)") }
        if !keypointThreshold.isFinite {
            throw SuperPointError.invalidConfig("keypointThreshold must be finite, got \(keypointThreshold)")
        }
    }
}

/// Errors thrown by ``SuperPoint``.
public enum SuperPointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A ``SuperPointConfig`` value is out of range.
    case invalidConfig(String)
    /// The image cannot be processed (size mismatch, too small).
    case invalidImage(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid SuperPoint configuration: \(message)"
        case let .invalidImage(message): return "invalid SuperPoint input image: \(message)"
        }
    }
}
