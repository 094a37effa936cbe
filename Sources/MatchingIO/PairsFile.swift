// The pairs-list format of the reference's match_pairs.py: one pair per line, whitespace separated,
// `name0 name1 [rot0 rot1 [K0 (9) K1 (9) T_0to1 (16)]]`.
import Foundation
import Networks

/// One line of a pairs file.
public struct ImagePair: Sendable, Equatable {
    public var name0: String
    public var name1: String
    /// Quarter turns (np.rot90's k) applied to each image after resizing.
    public var rotation0: Int
    public var rotation1: Int

    public init(name0: String, name1: String, rotation0: Int = 0, rotation1: Int = 0) {
        self.name0 = name0
        self.name1 = name1
        self.rotation0 = rotation0
        self.rotation1 = rotation1
    }

    /// `{stem0}_{stem1}_matches.npz`, the reference's output name.
    public var matchesFileName: String {
        "\(Self.stem(name0))_\(Self.stem(name1))_matches.npz"
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
    /// (a line `a b 1 2` keeps rotations 0); each must be an integer, taken modulo 4.
    public static func parse(_ text: String, name: String = "pairs file") throws -> [ImagePair] {
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
            pairs.append(pair)
        }
        return pairs
    }

    public static func read(_ url: URL) throws -> [ImagePair] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw PairsFileError(description: "\(url.path): cannot read pairs file (\(error.localizedDescription))")
        }
        return try parse(text, name: url.lastPathComponent)
    }
}
