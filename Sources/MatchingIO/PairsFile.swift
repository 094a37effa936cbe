// The pairs-list format of the reference's match_pairs.py: one pair per line, whitespace separated,
// `name0 name1 [rot0 rot1 [K0 (9) K1 (9) T_0to1 (16)]]`; the last three, the ground truth of the
// pose evaluation, make 38 columns.
import Foundation
import Networks

/// The ground truth of a pair for the pose evaluation (the reference's ScanNet and YFCC pairs
/// files): intrinsics of both images as stored on disk (before resizing and rotation), and the
/// motion from camera 0 to camera 1.
public struct PairGroundTruth: Sendable, Equatable {
    /// K of image 0, row-major (9 values).
    public var intrinsics0: [Double]
    /// K of image 1, row-major (9 values).
    public var intrinsics1: [Double]
    /// T_0to1, a 4x4 row-major homogeneous transform (16 values) mapping points in camera 0's
    /// frame to camera 1's.
    public var transform0to1: [Double]

    public init(intrinsics0: [Double], intrinsics1: [Double], transform0to1: [Double]) {
        precondition(intrinsics0.count == 9 && intrinsics1.count == 9 && transform0to1.count == 16)
        self.intrinsics0 = intrinsics0
        self.intrinsics1 = intrinsics1
        self.transform0to1 = transform0to1
    }

    /// Columns of a line with ground truth: name0 name1 rot0 rot1 K0 (9) K1 (9) T_0to1 (16).
    public static let columns = 38
}

/// One line of a pairs file.
public struct ImagePair: Sendable, Equatable {
    public var name0: String
    public var name1: String
    /// Quarter turns (np.rot90's k) applied to each image after resizing.
    public var rotation0: Int
    public var rotation1: Int
    /// Intrinsics and relative pose, on lines with exactly 38 numeric columns.
    public var groundTruth: PairGroundTruth?

    public init(name0: String, name1: String, rotation0: Int = 0, rotation1: Int = 0, groundTruth: PairGroundTruth? = nil) {
        self.name0 = name0
        self.name1 = name1
        self.rotation0 = rotation0
        self.rotation1 = rotation1
        self.groundTruth = groundTruth
    }

    /// `{stem0}_{stem1}_matches.npz`, the reference's output name.
    public var matchesFileName: String {
        "\(Self.stem(name0))_\(Self.stem(name1))_matches.npz"
    }

    /// `{stem0}_{stem1}_evaluation.npz`, the reference's name for the pose evaluation of a pair.
    public var evaluationFileName: String {
        "\(Self.stem(name0))_\(Self.stem(name1))_evaluation.npz"
    }

    /// `{stem0}_{stem1}_matches.png`, the reference's visualisation name.
    public var plotFileName: String {
        "\(Self.stem(name0))_\(Self.stem(name1))_matches.png"
    }

    /// Python's Path(name).stem: the last component without its final suffix.
    static func stem(_ name: String) -> String {
        let last = name.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? name
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return last }
        return String(last[..<dot])
    }
}

/// Errors in a pairs file, with the line number.
public struct PairsFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

public enum PairsFile {
    /// Parses a pairs list. Blank lines are skipped; a line with one name is an error.
    ///
    /// Rotations are read only when a line has five or more columns, as match_pairs.py does
    /// (a line `a b 1 2` keeps rotations 0); each must be an integer, taken modulo 4. A line of
    /// exactly 38 numeric columns also carries ``ImagePair/groundTruth``. With
    /// `requireGroundTruth` (the pose evaluation) every line must have it, as match_pairs.py
    /// --eval requires.
    public static func parse(_ text: String, name: String = "pairs file", requireGroundTruth: Bool = false) throws -> [ImagePair] {
        var pairs: [ImagePair] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count >= 2 else {
                throw PairsFileError(description: "\(name):\(index + 1): expected two image names, found '\(line)'")
            }
            var pair = ImagePair(name0: fields[0], name1: fields[1])
            if fields.count >= 5 {
                guard let r0 = Int(fields[2]), let r1 = Int(fields[3]) else {
                    throw PairsFileError(description: "\(name):\(index + 1): rotations '\(fields[2]) \(fields[3])' are not integers")
                }
                pair.rotation0 = ((r0 % 4) + 4) % 4
                pair.rotation1 = ((r1 % 4) + 4) % 4
            }
            if fields.count == PairGroundTruth.columns {
                let numbers = fields[4...].compactMap { Double($0) }
                if numbers.count == 34 {
                    pair.groundTruth = PairGroundTruth(intrinsics0: Array(numbers[0..<9]), intrinsics1: Array(numbers[9..<18]),
                                                       transform0to1: Array(numbers[18..<34]))
                }
            }
            if requireGroundTruth && pair.groundTruth == nil {
                throw PairsFileError(description: "\(name):\(index + 1): the evaluation needs 38 columns, name0 name1 rot0 rot1 K0 (9 numbers) K1 (9) T_0to1 (16); found \(fields.count) columns\(fields.count == PairGroundTruth.columns ? " with a non-number" : "")")
            }
            pairs.append(pair)
        }
        return pairs
    }

    public static func read(_ url: URL, requireGroundTruth: Bool = false) throws -> [ImagePair] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PairsFileError(description: "\(url.path): cannot read pairs file (\(error.localizedDescription))")
        }
        return try parse(text, name: url.lastPathComponent, requireGroundTruth: requireGroundTruth)
    }
}
