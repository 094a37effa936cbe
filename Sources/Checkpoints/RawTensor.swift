// Element types and a dtype-tagged tensor as read from a checkpoint, before conversion to Float32.
import Foundation

/// Element type of a stored tensor, named as in the safetensors header.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// A contiguous, row-major tensor in its stored element type (little-endian bytes).
public struct RawTensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    /// Little-endian element bytes, row-major, `count * dtype.size` long.
    public var bytes: [UInt8]

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A Float32 tensor.
    public init(shape: [Int], floats: [Float]) {
        self.dtype = .f32
        self.shape = shape
        self.bytes = floats.withUnsafeBytes { Array($0) }
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }

    /// The values converted to Float32 (exact for F32/F16/BF16/I8/U8/I16; rounded for F64 and large integers).
    public func floatValues() -> [Float] {
        let n = min(count, bytes.count / dtype.size)
        var out = [Float](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                let o = i * dtype.size
                switch dtype {
                case .f32: out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
                case .f64: out[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian))
                case .f16: out[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
                case .bf16: out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) << 16)
                case .i64: out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int64.self)))
                case .i32: out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                case .i16: out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                case .i8: out[i] = Float(raw.load(fromByteOffset: o, as: Int8.self))
                case .u8, .bool: out[i] = Float(raw[o])
                }
            }
        }
        return out
    }

    /// The values as Int64 (integer types exactly; floats truncated toward zero).
    public func intValues() -> [Int64] {
        if dtype == .i64 {
            let n = min(count, bytes.count / 8)
            var out = [Int64](repeating: 0, count: n)
            bytes.withUnsafeBytes { raw in
                for i in 0..<n { out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            }
            return out
        }
        if dtype == .i32 {
            let n = min(count, bytes.count / 4)
            var out = [Int64](repeating: 0, count: n)
            bytes.withUnsafeBytes { raw in
                for i in 0..<n { out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
            }
            return out
        }
        return floatValues().map { Int64($0) }
    }
}

/// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaN included).
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        // Zero or subnormal: value = mantissa * 2^-24.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
}
