// Configurations and errors of the ALIKED detector (ALIKED.swift).

/// The four released ALIKED models.
public enum ALIKEDVariant: String, Sendable, CaseIterable, Equatable {
    case t16 = "aliked-t16"
    case n16 = "aliked-n16"
    case n16rot = "aliked-n16rot"
    case n32 = "aliked-n32"

    /// Channel widths and descriptor head sizes: c1...c4 of blocks 1-4, the descriptor length
    /// `dim` (= c4), the SDDH patch side `K` and sample count `M`.
    public struct Dimensions: Sendable, Equatable {
        public let c1: Int, c2: Int, c3: Int, c4: Int, dim: Int, patch: Int, samples: Int
    }

    public var dimensions: Dimensions {
        switch self {
        case .t16: return Dimensions(c1: 8, c2: 16, c3: 32, c4: 64, dim: 64, patch: 3, samples: 16)
        case .n16, .n16rot: return Dimensions(c1: 16, c2: 32, c3: 64, c4: 128, dim: 128, patch: 3, samples: 16)
        case .n32: return Dimensions(c1: 16, c2: 32, c3: 64, c4: 128, dim: 128, patch: 3, samples: 32)
        }
    }
}

/// ALIKED options, with LightGlue's defaults (lightglue/aliked.py).
public struct ALIKEDConfig: Sendable, Equatable {
    public var variant: ALIKEDVariant
    /// Keypoints need a score strictly above this after NMS; 0 or below switches to top-k
    /// selection of `maxKeypoints` (or, with `maxKeypoints` -1, to the mean score as threshold).
    public var detectionThreshold: Float = 0.2
    /// With a positive threshold: keep at most this many (the strongest, in score order);
    /// with a threshold <= 0: the number of top-k keypoints. -1: no limit (20000 at most).
    public var maxKeypoints: Int = -1
    /// NMS radius (window `2r + 1`), also the border and the soft-argmax window radius.
    public var nmsRadius: Int = 2

    public init(variant: ALIKEDVariant = .n16, detectionThreshold: Float = 0.2, maxKeypoints: Int = -1, nmsRadius: Int = 2) {
        self.variant = variant
        self.detectionThreshold = detectionThreshold
        self.maxKeypoints = maxKeypoints
        self.nmsRadius = nmsRadius
    }

    /// The reference's cap on threshold-mode keypoints when `maxKeypoints` is -1.
    static let keypointLimit = 20000

    public func validate() throws {
        if maxKeypoints == 0 || maxKeypoints < -1 {
            throw ALIKEDError.invalidConfig("maxKeypoints must be positive or -1 (no limit), got \(maxKeypoints)")
        }
        if nmsRadius < 1 || nmsRadius > 16 { throw ALIKEDError.invalidConfig("nmsRadius must be in 1...16, got \(nmsRadius)") }
        if !detectionThreshold.isFinite {
            throw ALIKEDError.invalidConfig("detectionThreshold must be finite, got \(detectionThreshold)")
        }
    }
}

/// Errors thrown by ``ALIKED``.
public enum ALIKEDError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidConfig(String)
    case invalidImage(String)

    public var description: String {
        switch self {
        case let .invalidConfig(message): return "invalid ALIKED configuration: \(message)"
        case let .invalidImage(message): return "invalid ALIKED input image: \(message)"
        }
    }
}
