// On-disk cache of database-image features, so that ranking a second query over the same folder
// skips the detector for every image. Format documented in Tools/azureml/FORMATS.md.
import Foundation
import SuperGlueKit

/// A folder of feature files keyed by image content and detector identity.
///
/// Entry for key `k` (64 hex digits): `<root>/v1/<k[0..<2]>/<k>.npz`, a ``FeaturesIO`` file with
/// an extra member `cache_key` (the key's ASCII bytes). The key is
/// `SHA-256("superglue-feature-cache v1|" + SHA-256(file bytes) + "|" + featureIdentity)`, so an
/// edited image, other weights or other detector options never hit an old entry. Entries are
/// written to a temporary file and renamed, so concurrent writers (shards sharing a cache folder)
/// never expose a partial file; an entry that fails to parse, whose checksum or key does not
/// match, is reported as ``Lookup/rejected(_:)`` and recomputed by the caller.
public struct FeatureCache: Sendable {
    public let root: URL
    /// SHA-256 of the engine's ``RankingEngine/featureIdentity``.
    public let identityDigest: String

    /// The outcome of a lookup.
    public enum Lookup: Sendable {
        case hit(Features)
        case miss
        /// An entry exists but cannot be trusted; the reason says why.
        case rejected(String)
    }

    /// Opens (creating if needed) the cache folder.
    public init(root: URL, featureIdentity: String) throws {
        self.root = root
        self.identityDigest = SHA256.hash(featureIdentity).hex
        do {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("v1"), withIntermediateDirectories: true)
        } catch {
            throw RankingJobError.output("cannot create the feature cache \(root.path): \(error.localizedDescription)")
        }
    }

    /// The cache key of an image with the given content digest.
    public func key(contentDigest: SHA256.Digest) -> String {
        SHA256.hash("superglue-feature-cache v1|" + contentDigest.hex + "|" + identityDigest).hex
    }

    /// Where the entry for `key` lives (whether or not it exists).
    public func entryURL(key: String) -> URL {
        root.appendingPathComponent("v1").appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key + ".npz")
    }

    /// The cached features for `key`, after checking the entry's checksum, key and values.
    public func lookup(key: String) -> Lookup {
        let url = entryURL(key: key)
        guard FileManager.default.fileExists(atPath: url.path) else { return .miss }
        do {
            let arrays = try NPZ.read(url)
            guard let stored = arrays["cache_key"], stored.descr == "|u1", stored.bytes == Array(key.utf8) else {
                return .rejected("\(url.path): cache_key does not match the file name")
            }
            return .hit(try FeaturesIO.features(from: arrays, name: url.path))
        } catch {
            return .rejected(String(describing: error))
        }
    }

    /// Writes (or replaces) the entry for `key` atomically.
    public func store(_ features: Features, key: String) throws {
        let url = entryURL(key: key)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FeaturesIO.write(features, to: url, extra: [("cache_key", NPYArray(uint8: Array(key.utf8), shape: [key.utf8.count]))])
    }
}
