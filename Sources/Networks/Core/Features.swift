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

    public init(keypoints: [Float], scores: [Float], descriptors: [Float], descriptorDim: Int = 256, imageWidth: Int, imageHeight: Int) {
        self.keypoints = keypoints
        self.scores = scores
        self.descriptors = descriptors
        self.descriptorDim = descriptorDim
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
    }

    /// Number of keypoints.
    public var count: Int { scores.count }

    /// Keypoint `i` as `(x, y)`.
    public func keypoint(_ i: Int) -> (x: Float, y: Float) { (keypoints[2 * i], keypoints[2 * i + 1]) }
}
