// Which images a ranking job (or one shard of it) covers.
import Foundation
import SuperGlueKit

/// One database image: where it is and the name it has in the results.
public struct RankingImage: Sendable, Equatable {
    /// Path relative to the images folder (or as written in the list file), `/`-separated; the
    /// `image` column of the results and the key of journal records and shard assignment.
    public var name: String
    public var url: URL

    public init(name: String, url: URL) {
        self.name = name
        self.url = url
    }
}

/// Where the database images come from.
public enum RankingImageSource: Sendable, Equatable {
    /// Every file with an image extension under a folder, recursively (hidden files skipped).
    case directory(URL)
    /// A text file with one path per line (empty lines and lines starting with `#` skipped);
    /// relative paths are resolved against `base` (the `--images` folder, else the current directory).
    case list(URL, base: URL?)

    /// Where the image listed as `name` is: under the folder, or as a list entry is resolved
    /// (absolute, or relative to the base).
    public func url(forImageNamed name: String) -> URL {
        switch self {
        case .directory(let folder):
            return folder.appendingPathComponent(name)
        case .list(_, let base):
            if name.hasPrefix("/") { return URL(fileURLWithPath: name) }
            return (base ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)).appendingPathComponent(name)
        }
    }
}

/// A deterministic part `index` of `count` (`--shard i/n`, 0-based `i`).
///
/// An image belongs to shard `SHA-256(name)[0..<8] mod count`, so membership depends only on the
/// image's name: it does not change when the listing is reordered or other images come and go,
/// and `n` workers given `0/n` … `n-1/n` cover every image exactly once.
public struct RankingShard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw RankingJobError.usage("shard \(index)/\(count) is invalid: need 0 <= i < n")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)), let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw RankingJobError.usage("shard '\(text)' is not of the form i/n (for example 0/4)")
        }
        try self.init(index: i, count: n)
    }

    /// The shard (0..<count) an image name belongs to.
    public static func index(of name: String, count: Int) -> Int {
        Int(SHA256.hash(name).prefix64 % UInt64(max(count, 1)))
    }

    /// Whether the image called `name` belongs to this shard.
    public func contains(_ name: String) -> Bool { Self.index(of: name, count: count) == index }

    public var description: String { "\(index)/\(count)" }
}

/// Listing of database images.
public enum ImageListing {
    /// File extensions (lower-case) taken from a folder; other files are ignored.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "pgm", "ppm", "pnm", "bmp", "tif", "tiff", "webp"]

    /// The images of a source, sorted by name, duplicates removed, restricted to `shard` if given.
    public static func images(from source: RankingImageSource, shard: RankingShard? = nil) throws -> [RankingImage] {
        let all: [RankingImage]
        switch source {
        case .directory(let folder): all = try directory(folder)
        case .list(let file, let base): all = try listFile(file, base: base)
        }
        var seen = Set<String>()
        let unique = all.filter { seen.insert($0.name).inserted }
        let selected = shard.map { s in unique.filter { s.contains($0.name) } } ?? unique
        return selected.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    static func directory(_ folder: URL) throws -> [RankingImage] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw RankingJobError.input("images folder \(folder.path) does not exist")
        }
        guard isDirectory.boolValue else { throw RankingJobError.input("images folder \(folder.path) is not a folder") }
        guard let enumerator = FileManager.default.enumerator(
            at: folder, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles],
            errorHandler: { _, _ in true })  // an unreadable subfolder must not stop the listing
        else { throw RankingJobError.input("cannot list \(folder.path)") }
        // The enumerator builds its URLs by appending to `folder`, so the relative name is what
        // follows the folder's own components.
        let root = folder.standardizedFileURL.pathComponents
        var out: [RankingImage] = []
        for case let url as URL in enumerator {
            guard imageExtensions.contains(url.pathExtension.lowercased()) else { continue }
            // fileExists follows symbolic links, so linked image files are listed like plain ones.
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let found = url.standardizedFileURL.pathComponents
            let relative = found.count > root.count && Array(found.prefix(root.count)) == root ? Array(found.dropFirst(root.count)) : [url.lastPathComponent]
            out.append(RankingImage(name: relative.joined(separator: "/"), url: url))
        }
        return out
    }

    static func listFile(_ file: URL, base: URL?) throws -> [RankingImage] {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw RankingJobError.input("cannot read the image list \(file.path): \(error.localizedDescription)")
        }
        let source = RankingImageSource.list(file, base: base)
        var out: [RankingImage] = []
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            out.append(RankingImage(name: entry, url: source.url(forImageNamed: entry)))
        }
        return out
    }
}
