// Features on disk: the format `superglue extract` writes, `match`/`pairs`/`rank` can load, and
// the ranking job's feature cache stores. It is a plain .npz, so numpy users can read it.
import Foundation
import Networks
import ImageIO
import Checkpoints

/// Reading and writing ``Features`` as NumPy `.npz` archives.
///
/// Format version 2, one array per member:
///
/// | member           | dtype  | shape   | meaning                                                          |
/// |------------------|--------|---------|------------------------------------------------------------------|
/// | `format_version` | `<i8`  | `(1,)`  | `2`                                                              |
/// | `keypoints`      | `<f4`  | `(N, 2)`| x, y in pixels of `image_size` (see below)                       |
/// | `scores`         | `<f4`  | `(N,)`  | detection scores                                                 |
/// | `descriptors`    | `<f4`  | `(N, D)`| one L2-normalised descriptor per row (256 SuperPoint, 128 ALIKED-n/DISK) |
/// | `image_size`     | `<i8`  | `(2,)`  | width, height of the image the keypoints live in                 |
/// | `detector`       | `<U*`  | `()`    | the detector that made them (`superpoint`, `aliked-n16`, `disk`); absent when unknown |
/// | `sha256`         | `|u1`  | `(32,)` | SHA-256 of the members above (see ``payloadDigest(_:)``)         |
///
/// Keypoints are where each detector's reference reports them: pixels of the resized network
/// input for SuperPoint (match_pairs.py), pixels of the original image for ALIKED and DISK
/// (LightGlue's extract); `image_size` is that image's size. Version 1 files (no `detector`)
/// are still read, with the detector unknown.
///
/// Descriptors are stored one row per keypoint (`N x D`), the transpose of the reference's
/// `D x N` tensors, because that is the natural layout for numpy users (`d[i]` is keypoint `i`'s).
/// Extra members are allowed and ignored (the feature cache adds `cache_key`). A file without
/// `sha256` (e.g. written by numpy) is accepted; a file whose `sha256` does not match is rejected.
public enum FeaturesIO {
    /// The format version this code writes and the highest it reads.
    public static let formatVersion: Int64 = 2

    /// The archive members for `features`, plus any extra members appended after them.
    public static func arrays(for features: Features, extra: [(String, NPYArray)] = []) -> [(String, NPYArray)] {
        let core = coreArrays(features)
        var out = [("format_version", NPYArray(int64: [formatVersion], shape: [1]))] + core
        out.append(("sha256", NPYArray(uint8: payloadDigest(core).bytes, shape: [32])))
        out.append(contentsOf: extra)
        return out
    }

    /// Writes `features` to `url` atomically (temporary file, then rename).
    public static func write(_ features: Features, to url: URL, extra: [(String, NPYArray)] = []) throws {
        try NPZ.write(arrays(for: features, extra: extra), to: url)
    }

    /// Reads and validates a features file.
    public static func read(_ url: URL) throws -> Features {
        try features(from: NPZ.read(url), name: url.path)
    }

    /// Validates archive members and builds ``Features``; `name` is used in error messages.
    public static func features(from arrays: [String: NPYArray], name: String) throws -> Features {
        func member(_ key: String) throws -> NPYArray {
            guard let array = arrays[key] else { throw FeaturesFileError(file: name, reason: "missing member '\(key)'") }
            return array
        }
        let version = try member("format_version")
        guard version.descr == "<i8", version.count == 1, let v = try version.int64s().first else {
            throw FeaturesFileError(file: name, reason: "format_version must be one int64")
        }
        guard v >= 1, v <= formatVersion else {
            throw FeaturesFileError(file: name, reason: "format_version \(v) is not supported (this build reads 1...\(formatVersion))")
        }
        let keypoints = try member("keypoints"), scores = try member("scores")
        let descriptors = try member("descriptors"), imageSize = try member("image_size")
        for (key, array) in [("keypoints", keypoints), ("scores", scores), ("descriptors", descriptors)] where array.descr != "<f4" {
            throw FeaturesFileError(file: name, reason: "'\(key)' has dtype \(array.descr), expected <f4")
        }
        guard scores.shape.count == 1 else { throw FeaturesFileError(file: name, reason: "'scores' has shape \(scores.shape), expected (N,)") }
        let n = scores.shape[0]
        guard keypoints.shape == [n, 2] else {
            throw FeaturesFileError(file: name, reason: "'keypoints' has shape \(keypoints.shape), expected (\(n), 2)")
        }
        guard descriptors.shape.count == 2, descriptors.shape[0] == n, descriptors.shape[1] > 0 else {
            throw FeaturesFileError(file: name, reason: "'descriptors' has shape \(descriptors.shape), expected (\(n), D) with D > 0")
        }
        guard imageSize.descr == "<i8", imageSize.shape == [2] else {
            throw FeaturesFileError(file: name, reason: "'image_size' must be two int64 (width, height)")
        }
        let size = try imageSize.int64s()
        guard size[0] > 0, size[1] > 0, size[0] <= Int64(Int32.max), size[1] <= Int64(Int32.max) else {
            throw FeaturesFileError(file: name, reason: "'image_size' \(size) is not a positive width and height")
        }
        var detector: String?
        if v >= 2, let recorded = arrays["detector"] {
            do { detector = try recorded.string() } catch {
                throw FeaturesFileError(file: name, reason: "'detector' must be a 0-d unicode string (\(error))")
            }
        }
        if let digest = arrays["sha256"] {
            var payload = [("keypoints", keypoints), ("scores", scores), ("descriptors", descriptors), ("image_size", imageSize)]
            if v >= 2, let recorded = arrays["detector"] { payload.append(("detector", recorded)) }
            let expected = payloadDigest(payload)
            guard digest.descr == "|u1", digest.bytes == expected.bytes else {
                throw FeaturesFileError(file: name, reason: "checksum mismatch (the file is corrupt)")
            }
        }
        let kp = try keypoints.floats(), sc = try scores.floats(), de = try descriptors.floats()
        guard kp.allSatisfy(\.isFinite), sc.allSatisfy(\.isFinite), de.allSatisfy(\.isFinite) else {
            throw FeaturesFileError(file: name, reason: "contains NaN or infinite values")
        }
        return Features(keypoints: kp, scores: sc, descriptors: de, descriptorDim: descriptors.shape[1],
                        imageWidth: Int(size[0]), imageHeight: Int(size[1]), detector: detector)
    }

    /// SHA-256 over each member's name, dtype, shape and bytes, in order; detects truncation and
    /// bit flips that the zip container (whose CRCs the reader does not check) would let through.
    public static func payloadDigest(_ arrays: [(String, NPYArray)]) -> SHA256.Digest {
        var hasher = SHA256()
        for (name, array) in arrays {
            hasher.update("\(name)|\(array.descr)|\(array.shape)|\(array.bytes.count)|")
            hasher.update(array.bytes)
        }
        return hasher.finalize()
    }

    private static func coreArrays(_ f: Features) -> [(String, NPYArray)] {
        [("keypoints", NPYArray(float32: f.keypoints, shape: [f.count, 2])),
         ("scores", NPYArray(float32: f.scores, shape: [f.count])),
         ("descriptors", NPYArray(float32: f.descriptors, shape: [f.count, f.descriptorDim])),
         ("image_size", NPYArray(int64: [Int64(f.imageWidth), Int64(f.imageHeight)], shape: [2]))]
            + (f.detector.map { [("detector", NPYArray(string: $0))] } ?? [])
    }
}

/// A features file that cannot be used, with the file and the reason.
public struct FeaturesFileError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}
