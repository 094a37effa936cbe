// The safetensors format (Hugging Face): u64 little-endian header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets} plus an optional "__metadata__" string map, then
// the raw little-endian data. https://github.com/huggingface/safetensors#format
import Foundation

/// Errors from reading or writing safetensors files.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A parsed safetensors file: its tensors by name and its string metadata.
public struct SafeTensorsFile: Sendable {
    public var tensors: [String: RawTensor]
    public var metadata: [String: String]

    public init(tensors: [String: RawTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Largest JSON header accepted (the format's own reference limit is 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Reads and validates a safetensors file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw SafeTensorsError("\(url.path): cannot read file (\(error.localizedDescription))")
        }
        try self.init(data: data, name: url.lastPathComponent)
    }

    /// Parses a safetensors image held in memory. `name` is used in error messages.
    public init(data: Data, name: String = "safetensors") throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw SafeTensorsError("\(name): file too short for a safetensors header (\(bytes.count) bytes)") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes), Int(headerLength) <= bytes.count - 8 else {
            throw SafeTensorsError("\(name): header length \(headerLength) exceeds the file size \(bytes.count)")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]), options: [])
        } catch {
            throw SafeTensorsError("\(name): header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw SafeTensorsError("\(name): header is not a JSON object") }
        let dataSize = bytes.count - headerEnd
        var tensors: [String: RawTensor] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                guard let map = value as? [String: Any] else { throw SafeTensorsError("\(name): __metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw SafeTensorsError("\(name): metadata value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2
            else { throw SafeTensorsError("\(name): malformed header entry for tensor '\(key)'") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SafeTensorsError("\(name): tensor '\(key)' has unsupported dtype \(dtypeName)")
            }
            var shape: [Int] = []
            var count = 1
            for v in shapeValues {
                guard let n = (v as? NSNumber)?.int64Value, n >= 0, n < (1 << 40) else {
                    throw SafeTensorsError("\(name): tensor '\(key)' has an invalid shape")
                }
                shape.append(Int(n))
                let (product, overflow) = count.multipliedReportingOverflow(by: Int(n))
                guard !overflow, product <= dataSize else {
                    throw SafeTensorsError("\(name): tensor '\(key)' shape \(shapeValues) is larger than the file")
                }
                count = product
            }
            guard let begin = (offsetValues[0] as? NSNumber)?.int64Value, let end = (offsetValues[1] as? NSNumber)?.int64Value,
                  begin >= 0, end >= begin, end <= Int64(dataSize)
            else { throw SafeTensorsError("\(name): tensor '\(key)' has data offsets outside the file") }
            guard Int(end - begin) == count * dtype.size else {
                throw SafeTensorsError("\(name): tensor '\(key)' holds \(end - begin) bytes, its shape \(shape) and dtype \(dtypeName) need \(count * dtype.size)")
            }
            tensors[key] = RawTensor(dtype: dtype, shape: shape, bytes: Array(bytes[(headerEnd + Int(begin))..<(headerEnd + Int(end))]))
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The file image: header (tensors sorted by name, 8-byte aligned data start) followed by the data.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard let t = tensors[name] else { continue }
            guard t.bytes.count == t.count * t.dtype.size else {
                throw SafeTensorsError("tensor '\(name)': \(t.bytes.count) bytes do not match shape \(t.shape) of \(t.dtype.rawValue)")
            }
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad with spaces so data starts aligned
        var out = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names { if let t = tensors[name] { out.append(contentsOf: t.bytes) } }
        return out
    }

    /// Writes the file atomically (temporary file, then rename).
    public func write(to url: URL) throws {
        try serialized().write(to: url, options: .atomic)
    }
}
