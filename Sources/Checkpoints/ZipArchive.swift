// A minimal reader for the zip archives torch.save writes since torch 1.6: every entry is stored
// (not compressed), so the central directory, local headers and CRC-32 are all that is needed.
// Zip64 records are honoured because miniz (torch's zip writer) emits them for large archives.
import Foundation

/// An error in a zip archive's structure.
public struct ZipError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The entries of a zip archive held in memory, read through its central directory.
public struct ZipArchive: Sendable {
    /// One central-directory entry.
    public struct Entry: Sendable, Equatable {
        /// Path inside the archive, '/'-separated.
        public var name: String
        /// Compression method: 0 is stored, the only one this reader extracts.
        public var method: UInt16
        public var crc32: UInt32
        public var compressedSize: Int
        /// Uncompressed size in bytes.
        public var size: Int
        /// Offset of the entry's local header from the start of the archive.
        public var localHeaderOffset: Int
    }

    /// Entries in central-directory order.
    public let entries: [Entry]
    private let bytes: [UInt8]
    /// Index of the first entry with each name (lookups stay linear in hostile archives).
    private let index: [String: Int]

    /// Parses the end-of-central-directory record and the central directory.
    public init(bytes: [UInt8]) throws {
        self.bytes = bytes
        guard bytes.count >= 22 else { throw ZipError("too short for a zip archive") }
        // The end record sits at the end, followed by a comment of at most 65535 bytes.
        var eocd = -1
        let earliest = max(0, bytes.count - 22 - 65535)
        var i = bytes.count - 22
        while i >= earliest {
            if Self.u32(bytes, i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw ZipError("no end-of-central-directory record") }
        var entryCount = Int(Self.u16(bytes, eocd + 10))
        var directorySize = Int(Self.u32(bytes, eocd + 12))
        var directoryOffset = Int(Self.u32(bytes, eocd + 16))
        if entryCount == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            guard eocd >= 20, Self.u32(bytes, eocd - 20) == 0x0706_4b50 else { throw ZipError("zip64 locator missing") }
            let record = Self.u64(bytes, eocd - 12)
            guard record <= UInt64(bytes.count - 56), Self.u32(bytes, Int(record)) == 0x0606_4b50 else {
                throw ZipError("zip64 end record missing")
            }
            let r = Int(record)
            let count = Self.u64(bytes, r + 32), size = Self.u64(bytes, r + 40), offset = Self.u64(bytes, r + 48)
            guard count <= UInt64(bytes.count), size <= UInt64(bytes.count), offset <= UInt64(bytes.count) else {
                throw ZipError("zip64 end record holds impossible sizes")
            }
            entryCount = Int(count); directorySize = Int(size); directoryOffset = Int(offset)
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else {
            throw ZipError("central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the file")
        }
        guard entryCount <= directorySize / 46 else { throw ZipError("central directory cannot hold \(entryCount) entries") }
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var p = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<entryCount {
            guard p + 46 <= directoryEnd, Self.u32(bytes, p) == 0x0201_4b50 else {
                throw ZipError("central directory entry \(index) is malformed")
            }
            let flags = Self.u16(bytes, p + 8)
            let method = Self.u16(bytes, p + 10)
            let crc = Self.u32(bytes, p + 16)
            var compressed = UInt64(Self.u32(bytes, p + 20))
            var size = UInt64(Self.u32(bytes, p + 24))
            let nameLength = Int(Self.u16(bytes, p + 28))
            let extraLength = Int(Self.u16(bytes, p + 30))
            let commentLength = Int(Self.u16(bytes, p + 32))
            var local = UInt64(Self.u32(bytes, p + 42))
            guard p + 46 + nameLength + extraLength + commentLength <= directoryEnd else {
                throw ZipError("central directory entry \(index) runs past the directory")
            }
            guard flags & 0x1 == 0 else { throw ZipError("entry \(index) is encrypted") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // Zip64 extra field: the 64-bit values replace, in order, those stored as 0xffffffff.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = Self.u16(bytes, e), length = Int(Self.u16(bytes, e + 2))
                guard e + 4 + length <= extraEnd else { throw ZipError("entry '\(name)' has a malformed extra field") }
                if id == 0x0001 {
                    var q = e + 4
                    for field in [0, 1, 2] {
                        let needs = field == 0 ? size == 0xffff_ffff : field == 1 ? compressed == 0xffff_ffff : local == 0xffff_ffff
                        guard needs else { continue }
                        guard q + 8 <= e + 4 + length else { throw ZipError("entry '\(name)' has a short zip64 field") }
                        let value = Self.u64(bytes, q)
                        if field == 0 { size = value } else if field == 1 { compressed = value } else { local = value }
                        q += 8
                    }
                }
                e += 4 + length
            }
            guard size <= UInt64(bytes.count), compressed <= UInt64(bytes.count), local <= UInt64(bytes.count) else {
                throw ZipError("entry '\(name)' claims sizes beyond the file")
            }
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: Int(compressed),
                                 size: Int(size), localHeaderOffset: Int(local)))
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, entry) in entries.enumerated() where index[entry.name] == nil { index[entry.name] = i }
        self.index = index
    }

    /// The first entry with exactly this name.
    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The stored bytes of an entry, after checking its local header and CRC-32.
    public func contents(of entry: Entry) throws -> ArraySlice<UInt8> {
        let p = entry.localHeaderOffset
        guard p <= bytes.count - 30, Self.u32(bytes, p) == 0x0403_4b50 else {
            throw ZipError("entry '\(entry.name)' has no local header at offset \(p)")
        }
        guard entry.method == 0 else {
            throw ZipError("entry '\(entry.name)' is compressed (method \(entry.method)); torch checkpoints store entries uncompressed")
        }
        guard entry.compressedSize == entry.size else {
            throw ZipError("stored entry '\(entry.name)' has different compressed and uncompressed sizes")
        }
        let start = p + 30 + Int(Self.u16(bytes, p + 26)) + Int(Self.u16(bytes, p + 28))
        guard start <= bytes.count, entry.size <= bytes.count - start else {
            throw ZipError("entry '\(entry.name)' (\(entry.size) bytes at offset \(start)) runs past the end of the file")
        }
        let data = bytes[start..<(start + entry.size)]
        guard CRC32.checksum(data) == entry.crc32 else { throw ZipError("entry '\(entry.name)' fails its CRC-32 check") }
        return data
    }

    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 {
        guard i >= 0, i + 2 <= b.count else { return 0 }
        return UInt16(b[i]) | UInt16(b[i + 1]) << 8
    }

    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        guard i >= 0, i + 4 <= b.count else { return 0 }
        return UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    static func u64(_ b: [UInt8], _ i: Int) -> UInt64 {
        UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32
    }
}

/// CRC-32 as zip uses it (reflected polynomial 0xEDB88320).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 of `data`.
    public static func checksum<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xffff_ffff
        table.withUnsafeBufferPointer { t in
            let done: Void? = data.withContiguousStorageIfAvailable { d in
                for b in d { crc = t[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
            }
            if done == nil {
                for b in data { crc = t[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
            }
        }
        return ~crc
    }
}
