// Writes zip archives with stored (uncompressed) entries, enough to build torch-style zip
// checkpoints with unusual layouts for the reader's tests.
import Foundation
@testable import Checkpoints
import Networks

enum StoredZipWriter {
    static func archive(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
        func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xff) } }
        var out: [UInt8] = []
        var directory: [UInt8] = []
        for (name, data) in entries {
            let nameBytes = Array(name.utf8)
            let crc = CRC32.checksum(data)
            let offset = out.count
            out += u32(0x0403_4b50) + u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(crc)
                + u32(UInt32(data.count)) + u32(UInt32(data.count)) + u16(nameBytes.count) + u16(0) + nameBytes + data
            directory += u32(0x0201_4b50) + u16(20) + u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(crc)
                + u32(UInt32(data.count)) + u32(UInt32(data.count)) + u16(nameBytes.count) + u16(0) + u16(0)
                + u16(0) + u16(0) + u32(0) + u32(UInt32(offset)) + nameBytes
        }
        let directoryOffset = out.count
        out += directory
        out += u32(0x0605_4b50) + u16(0) + u16(0) + u16(entries.count) + u16(entries.count)
            + u32(UInt32(directory.count)) + u32(UInt32(directoryOffset)) + u16(0)
        return out
    }

    /// The entries of a fixture archive with their folder renamed.
    static func entries(of bytes: [UInt8], renamingFolderTo folder: String) throws -> [(name: String, data: [UInt8])] {
        let archive = try ZipArchive(bytes: bytes)
        return try archive.entries.map { entry in
            let rest = entry.name.drop { $0 != "/" }
            return (folder + rest, Array(try archive.contents(of: entry)))
        }
    }
}
