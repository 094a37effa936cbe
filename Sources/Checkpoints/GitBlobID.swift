// Git's blob id: SHA-1 over "blob <size>\0" followed by the file's bytes. The official weight
// files are pinned by these ids (what `git hash-object FILE` prints), so a downloaded file can be
// checked against the exact commit it came from. SHA-1 is implemented here (FIPS 180-4) because
// Foundation on Linux has no digest API and the project avoids a crypto dependency for one hash.
import Foundation

/// SHA-1 message digest (FIPS 180-4). Used only for content identity, not for security.
public struct SHA1: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0)
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    public init() { buffer.reserveCapacity(64) }

    /// Feeds more bytes.
    public mutating func update<C: Collection>(_ data: C) where C.Element == UInt8 {
        length &+= UInt64(data.count)
        let handled: Void? = data.withContiguousStorageIfAvailable { chunk in absorb(chunk) }
        if handled == nil { Array(data).withUnsafeBufferPointer { absorb($0) } }
    }

    private mutating func absorb(_ chunk: UnsafeBufferPointer<UInt8>) {
        var i = 0
        if !buffer.isEmpty {
            let fill = min(64 - buffer.count, chunk.count)
            buffer.append(contentsOf: chunk[0..<fill])
            i = fill
            if buffer.count == 64 {
                let block = buffer
                block.withUnsafeBufferPointer { compress($0, 0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        while i + 64 <= chunk.count {
            compress(chunk, i)
            i += 64
        }
        if i < chunk.count { buffer.append(contentsOf: chunk[i...]) }
    }

    /// The 20-byte digest of everything fed so far.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        while (copy.buffer.count + tail.count) % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBufferPointer { copy.absorb($0) }
        var out: [UInt8] = []
        for word in [copy.state.0, copy.state.1, copy.state.2, copy.state.3, copy.state.4] {
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return out
    }

    private mutating func compress(_ block: UnsafeBufferPointer<UInt8>, _ start: Int) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            compress(block, start, schedule: w)
        }
    }

    private mutating func compress(_ block: UnsafeBufferPointer<UInt8>, _ start: Int, schedule w: UnsafeMutableBufferPointer<UInt32>) {
        for t in 0..<16 {
            let p = start + 4 * t
            w[t] = UInt32(block[p]) << 24 | UInt32(block[p + 1]) << 16 | UInt32(block[p + 2]) << 8 | UInt32(block[p + 3])
        }
        for t in 16..<80 {
            let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
            w[t] = x << 1 | x >> 31
        }
        var (a, b, c, d, e) = state
        for t in 0..<80 {
            let f: UInt32, k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5a82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ed9_eba1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8f1b_bcdc
            default: f = b ^ c ^ d; k = 0xca62_c1d6
            }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
            e = d; d = c; c = b << 30 | b >> 2; b = a; a = temp
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }

    /// Lower-case hexadecimal digest of `data`.
    public static func hex<C: Collection>(_ data: C) -> String where C.Element == UInt8 {
        var hasher = SHA1()
        hasher.update(data)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// Git's object id for a file's contents, as `git hash-object` prints it.
public enum GitBlobID {
    /// The blob id of `data`: SHA-1 of "blob <size>\0" + data, in lower-case hex.
    public static func of<C: Collection>(_ data: C) -> String where C.Element == UInt8 {
        var hasher = SHA1()
        hasher.update(Array("blob \(data.count)\0".utf8))
        hasher.update(data)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The blob id of the file at `url`.
    public static func ofFile(at url: URL) throws -> String {
        let data = try Data(contentsOf: url, options: .mappedIfSafe)
        return of(data)
    }
}
