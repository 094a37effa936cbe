// The two roles a network can play in a matching pipeline. A detector turns an image into
// keypoints with descriptors; a matcher pairs the keypoints of two images. `Matcher` composes any
// detector with any matcher whose input it can consume.

/// An image after the preprocessing a detector expects, with the pixels the network reads.
public struct DetectorInput: Sendable {
    /// `width * height * channels` values in row-major, channel-interleaved order, scaled as the
    /// detector's reference scales them (8-bit values / 255).
    public var pixels: [Float]
    public var width: Int
    public var height: Int
    /// 1 (grey) or 3 (RGB).
    public var channels: Int

    public init(pixels: [Float], width: Int, height: Int, channels: Int) {
        self.pixels = pixels
        self.width = width
        self.height = height
        self.channels = channels
    }
}

/// A keypoint detector and descriptor: image in, ``Features`` out.
///
/// Conforming types are immutable and safe to call from several threads at once.
public protocol KeypointDetector: Sendable {
    /// Name used on the command line and recorded in features files (`superpoint`).
    var name: String { get }
    /// Colour channels the network reads: 1 for grey, 3 for RGB.
    var inputChannels: Int { get }
    /// Length of the descriptors it produces.
    var descriptorDim: Int { get }
    /// Detects and describes keypoints; coordinates are pixels of `input`.
    func detect(_ input: DetectorInput) throws -> Features
}

/// A feature matcher: the features of two images in, ``Matches`` out.
///
/// Conforming types are immutable and safe to call from several threads at once.
public protocol FeatureMatcher: Sendable {
    /// Name used on the command line (`superglue`).
    var name: String { get }
    /// Descriptor length the matcher was trained on.
    var descriptorDim: Int { get }
    /// Matches the keypoints of two images. Either side may be empty (nothing matches).
    func match(_ features0: Features, _ features1: Features) throws -> Matches
}

extension SuperPoint: KeypointDetector {
    public var name: String { "superpoint" }
    public var inputChannels: Int { 1 }
    public var descriptorDim: Int { config.descriptorDim }

    public func detect(_ input: DetectorInput) throws -> Features {
        guard input.channels == 1 else {
            throw SuperPointError.invalidImage("SuperPoint reads grey images; got \(input.channels) channels")
        }
        return try self(image: input.pixels, width: input.width, height: input.height)
    }
}

extension SuperGlue: FeatureMatcher {
    public var name: String { "superglue" }
    public var descriptorDim: Int { config.descriptorDim }
}
