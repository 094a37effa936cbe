// NumPy .npy (format version 1.0) arrays and .npz archives (a zip of .npy members, stored
// uncompressed like numpy.savez), so outputs load with numpy.load and the reference's scripts.
import Foundation
import Networks
import Checkpoints

/// One NumPy array: a little-endian dtype, a C-order shape and its raw bytes.
public struct NPYArray: Sendable, Equatable {
    /// NumPy type string: "<f4", "<i8", "<i4", "|u1", "|b1", "<U{n}".
    public var descr: String
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(descr: String, shape: [Int], bytes: [UInt8]) {
        self.descr = descr
        self.shape = shape
        self.bytes = bytes
    }

    public init(float32 values: [Float], shape: [Int]) {
        self.init(descr: "<f4", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(float64 values: [Double], shape: [Int]) {
        self.init(descr: "<f8", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(int64 values: [Int64], shape: [Int]) {
        self.init(descr: "<i8", shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(descr: "|u1", shape: shape, bytes: values)
    }

    /// A 0-d unicode string (`'<U{n}'`, UTF-32LE code points, what `numpy.str_` saves as), so
    /// `str(np.load(f)["key"])` gives `value` back.
    public init(string value: String) {
        let scalars = value.unicodeScalars.map(\.value)
        self.init(descr: "<U\(max(scalars.count, 1))", shape: [],
                  bytes: (scalars.isEmpty ? [0] : scalars).flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } })
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The value of a 0-d unicode string array (trailing NULs dropped, as numpy does).
    public func string() throws -> String {
        guard descr.hasPrefix("<U"), shape.isEmpty, bytes.count % 4 == 0 else {
            throw NumPyError("array has dtype \(descr) and shape \(shape), expected a 0-d unicode string (<U)")
        }
        var text = String.UnicodeScalarView()
        for i in stride(from: 0, to: bytes.count, by: 4) {
            let v = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            if v == 0 { break }
            guard let scalar = Unicode.Scalar(v) else { throw NumPyError("array holds an invalid code point \(v)") }
            text.append(scalar)
        }
        return String(text)
    }

    /// The `.npy` file image (version 1.0; header padded to a multiple of 64 bytes as numpy does).
    public func encoded() -> Data {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let length = UInt16(header.utf8.count)
        out.append(UInt8(length & 0xff))
        out.append(UInt8(length >> 8))
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: bytes)
        return out
    }

    /// Parses a `.npy` image (versions 1.0-3.0, C order, little-endian or byte dtypes).
    public init(npy data: Data, name: String = "array") throws {
        let b = [UInt8](data)
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw NumPyError("\(name): not a .npy array")
        }
        let major = b[6]
        var headerStart = 10
        var headerLength = Int(b[8]) | Int(b[9]) << 8
        if major >= 2 {
            guard b.count >= 12 else { throw NumPyError("\(name): truncated .npy header") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            headerStart = 12
        }
        guard headerLength >= 0, headerStart + headerLength <= b.count,
              let header = String(bytes: b[headerStart..<(headerStart + headerLength)], encoding: .utf8)
        else { throw NumPyError("\(name): truncated .npy header") }
        guard let descr = Self.field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
              let shapeText = Self.field("shape", in: header)
        else { throw NumPyError("\(name): .npy header lacks descr or shape") }
        if let order = Self.field("fortran_order", in: header), order.contains("True") {
            throw NumPyError("\(name): Fortran-order arrays are not supported")
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let n = Int(d), n >= 0 else { throw NumPyError("\(name): bad shape \(shapeText)") }
            shape.append(n)
        }
        guard let itemSize = Self.itemSize(descr) else { throw NumPyError("\(name): unsupported dtype \(descr)") }
        let (count, overflow) = shape.reduce((1, false)) { acc, n in
            let (p, o) = acc.0.multipliedReportingOverflow(by: n); return (p, acc.1 || o)
        }
        let start = headerStart + headerLength
        guard !overflow, count <= (b.count - start) / max(itemSize, 1), start + count * itemSize <= b.count else {
            throw NumPyError("\(name): data shorter than shape \(shape)")
        }
        self.init(descr: descr, shape: shape, bytes: Array(b[start..<(start + count * itemSize)]))
    }

    private static func itemSize(_ descr: String) -> Int? {
        switch descr {
        case "<f4", "<i4", "<u4": return 4
        case "<f8", "<i8", "<u8": return 8
        case "<f2", "<i2", "<u2": return 2
        case "|u1", "|i1", "|b1": return 1
        default:
            // '<U{n}': n UTF-32 code units; bounded so a hostile header cannot overflow the size.
            guard descr.hasPrefix("<U"), let n = Int(descr.dropFirst(2)), n >= 1, n <= 1 << 20 else { return nil }
            return 4 * n
        }
    }

    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        let rest = header[keyRange.upperBound...].trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("(") {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        let end = rest.firstIndex(of: ",") ?? rest.firstIndex(of: "}") ?? rest.endIndex
        return String(rest[..<end])
    }

    /// Float32 values ("<f4" only).
    public func floats() throws -> [Float] {
        guard descr == "<f4" else { throw NumPyError("array has dtype \(descr), expected <f4") }
        return bytes.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) } }
    }

    /// Values of a float or int64 array ("<f8", "<f4", "<i8") as doubles; numpy writes scalars
    /// such as the reference's evaluation results as 0-d arrays of these types.
    public func doubles() throws -> [Double] {
        switch descr {
        case "<f8":
            return bytes.withUnsafeBytes { raw in (0..<count).map { Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian) } }
        case "<f4": return try floats().map(Double.init)
        case "<i8": return try int64s().map(Double.init)
        default: throw NumPyError("array has dtype \(descr), expected <f8, <f4 or <i8")
        }
    }

    /// Int64 values ("<i8" only).
    public func int64s() throws -> [Int64] {
        guard descr == "<i8" else { throw NumPyError("array has dtype \(descr), expected <i8") }
        return bytes.withUnsafeBytes { raw in (0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
    }
}

/// Errors from reading NumPy files.
public struct NumPyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writing and reading `.npz` archives.
public enum NPZ {
    /// The archive image: one stored (uncompressed) zip member `<name>.npy` per array, in order.
    public static func encode(_ arrays: [(String, NPYArray)]) -> Data {
        var entries: [(name: String, data: Data)] = []
        for (name, array) in arrays { entries.append((name + ".npy", array.encoded())) }
        return ZipStore.archive(entries)
    }

    /// Writes the archive atomically (temporary file in the same directory, then rename).
    public static func write(_ arrays: [(String, NPYArray)], to url: URL) throws {
        try encode(arrays).write(to: url, options: .atomic)
    }

    /// Reads every `.npy` member of an archive written by numpy.savez or ``write(_:to:)``
    /// (stored members; the zip structure and CRCs are checked by Checkpoints' ``ZipArchive``).
    public static func read(_ url: URL) throws -> [String: NPYArray] {
        let data = try Data(contentsOf: url)
        let archive: ZipArchive
        do { archive = try ZipArchive(bytes: [UInt8](data)) } catch {
            throw NumPyError("\(url.lastPathComponent): \(error)")
        }
        var out: [String: NPYArray] = [:]
        for entry in archive.entries where entry.name.hasSuffix(".npy") {
            let member: ArraySlice<UInt8>
            do { member = try archive.contents(of: entry) } catch { throw NumPyError("\(url.lastPathComponent): \(error)") }
            out[String(entry.name.dropLast(4))] = try NPYArray(npy: Data(member), name: "\(url.lastPathComponent):\(entry.name)")
        }
        return out
    }
}

/// A minimal zip archive writer for stored (method 0) members, with CRC-32 (reading goes
/// through Checkpoints' ``ZipArchive``).
package enum ZipStore {
    package static func archive(_ entries: [(name: String, data: Data)]) -> Data {
        var out = Data()
        var central = Data()
        for entry in entries {
            let nameBytes = Array(entry.name.utf8)
            let crc = crc32(entry.data)
            let offset = UInt32(out.count)
            var local = Data()
            local.appendLE(UInt32(0x0403_4b50)); local.appendLE(UInt16(20)); local.appendLE(UInt16(0)); local.appendLE(UInt16(0))
            local.appendLE(UInt16(0)); local.appendLE(UInt16(0x21))  // time 00:00, date 1980-01-01
            local.appendLE(crc); local.appendLE(UInt32(entry.data.count)); local.appendLE(UInt32(entry.data.count))
            local.appendLE(UInt16(nameBytes.count)); local.appendLE(UInt16(0))
            local.append(contentsOf: nameBytes)
            out.append(local)
            out.append(entry.data)
            central.appendLE(UInt32(0x0201_4b50)); central.appendLE(UInt16(20)); central.appendLE(UInt16(20))
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0x21))
            central.appendLE(crc); central.appendLE(UInt32(entry.data.count)); central.appendLE(UInt32(entry.data.count))
            central.appendLE(UInt16(nameBytes.count)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0))
            central.appendLE(UInt16(0)); central.appendLE(UInt16(0)); central.appendLE(UInt32(0)); central.appendLE(offset)
            central.append(contentsOf: nameBytes)
        }
        let centralOffset = UInt32(out.count)
        out.append(central)
        out.appendLE(UInt32(0x0605_4b50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(UInt16(entries.count)); out.appendLE(UInt16(entries.count))
        out.appendLE(UInt32(central.count)); out.appendLE(centralOffset); out.appendLE(UInt16(0))
        return out
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    package static func crc32(_ data: Data) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        crcTable.withUnsafeBufferPointer { table in
            for byte in data { c = table[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
        }
        return c ^ 0xffff_ffff
    }
}

extension Data {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}
