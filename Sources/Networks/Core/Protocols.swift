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
    /// Does the work that depends on image 0 alone, once, for matching it against many images
    /// with the `match` that takes a ``PreparedQuery``. Throws for inconsistent features, as
    /// `match` does.
    func prepare(_ features0: Features) throws -> PreparedQuery
    /// Matches prepared image-0 features against image 1: the same matches and scores, bit for
    /// bit, as matching `query.features` as plain features.
    func match(_ query: PreparedQuery, _ features1: Features) throws -> Matches
}

extension FeatureMatcher {
    /// Matchers without query-side work keep the features and match them as they are.
    public func prepare(_ features0: Features) throws -> PreparedQuery { PreparedQuery(features: features0) }

    public func match(_ query: PreparedQuery, _ features1: Features) throws -> Matches {
        try match(query.features, features1)
    }
}

/// Image 0's features together with what a matcher computed from them alone (the input of its
/// first cross attention), made by ``FeatureMatcher/prepare(_:)`` and reusable for any number of
/// image-1 feature sets: a ranking job prepares its query once.
///
/// A query prepared by one matcher instance is refused by another (``SuperGlue`` and
/// ``LightGlue`` throw their `invalidFeatures` error), except by LightGlue instances made with
/// ``LightGlue/with(_:)``, which share the weights. ``init(features:)`` makes an unprepared value
/// that every matcher accepts and matches as plain features.
public struct PreparedQuery: Sendable {
    /// The features the query was prepared from.
    public let features: Features
    /// The matcher's query-side state; nil when nothing was precomputed.
    let state: (any Sendable)?

    /// Features without precomputed state.
    public init(features: Features) {
        self.features = features
        state = nil
    }

    init(features: Features, state: (any Sendable)?) {
        self.features = features
        self.state = state
    }

    /// Whether a matcher's state is attached (false for empty features or ``init(features:)``).
    public var isPrepared: Bool { state != nil }
}

/// Identifies the weights a matcher's prepared state was computed with: one instance per loaded
/// network, compared by identity.
final class PreparedStateOwner: Sendable {}

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
