// The features SuperPoint produces and SuperGlue consumes.

/// Keypoints, their detection scores and their descriptors for one image.
///
/// Keypoints are `(x, y)` pixel coordinates in the network's input image (the resized image),
/// as the reference produces them.
public struct Features: Sendable, Equatable {
    /// `count x 2` values, row per keypoint: x, y.
    public var keypoints: [Float]
    /// `count` detection scores.
    public var scores: [Float]
    /// `count x descriptorDim` values, row per keypoint, each row L2-normalised.
    public var descriptors: [Float]
    /// Length of one descriptor (256 for SuperPoint).
    public var descriptorDim: Int
    /// Width and height of the image the keypoints live in (SuperGlue normalises by it).
    public var imageWidth: Int
    public var imageHeight: Int
    /// The ``KeypointDetector/name`` of the detector that made these features (`aliked-n16`), nil
    /// when unknown (features from elsewhere, files of format version 1). A matcher trained on
    /// one detector's descriptors uses it to refuse another's of the same length.
    public var detector: String?

    public init(keypoints: [Float], scores: [Float], descriptors: [Float], descriptorDim: Int = 256, imageWidth: Int, imageHeight: Int,
                detector: String? = nil) {
        self.keypoints = keypoints
        self.scores = scores
        self.descriptors = descriptors
        self.descriptorDim = descriptorDim
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.detector = detector
    }

    /// The family of a detector name, the part before the first `-` (`aliked` for
    /// `aliked-n16rot`): detectors of one family make descriptors the same matcher weights read.
    public static func detectorFamily(_ name: String) -> String {
        String(name.prefix { $0 != "-" })
    }

    /// Number of keypoints.
    public var count: Int { scores.count }

    /// Keypoint `i` as `(x, y)`.
    public func keypoint(_ i: Int) -> (x: Float, y: Float) { (keypoints[2 * i], keypoints[2 * i + 1]) }
}
