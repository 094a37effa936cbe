import Foundation
import Testing
@testable import SuperGlueKit
@testable import Networks
@testable import SuperGlueRanking
import SuperGlueKitTestSupport
@testable import MatchingIO
import Tensors

@Suite struct NumPyTests {
    @Test func npzRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.npz")
        try NPZ.write([("keypoints0", NPYArray(float32: [1, 2, 3.5, 4], shape: [2, 2])), ("matches", NPYArray(int64: [Int64(-1), 7], shape: [2])),
                       ("empty", NPYArray(float32: [Float](), shape: [0, 256]))], to: url)
        let back = try NPZ.read(url)
        #expect(try back["keypoints0"]?.floats() == [1, 2, 3.5, 4])
        #expect(back["keypoints0"]?.shape == [2, 2])
        #expect(try back["matches"]?.int64s() == [-1, 7])
        #expect(back["empty"]?.shape == [0, 256])
    }

    /// float64 arrays and 0-d scalars, as the reference's evaluation files hold them; doubles()
    /// reads f8, f4 and i8 (match_pairs.py writes a precision of int 0 for a pair without matches).
    @Test func float64ScalarsRoundTrip() throws {
        let data = NPZ.encode([("error_t", NPYArray(float64: [.infinity], shape: [])), ("e", NPYArray(float64: [1e-300, -2.5], shape: [2])),
                               ("n", NPYArray(int64: [0], shape: [])), ("f", NPYArray(float32: [0.5], shape: [1]))])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try data.write(to: dir.appendingPathComponent("e.npz"))
        let back = try NPZ.read(dir.appendingPathComponent("e.npz"))
        #expect(back["error_t"]?.shape == [] && back["error_t"]?.descr == "<f8")
        #expect(try back["error_t"]?.doubles() == [.infinity])
        #expect(try back["e"]?.doubles() == [1e-300, -2.5])
        #expect(try back["n"]?.doubles() == [0] && back["f"]?.doubles() == [0.5])
        #expect(throws: NumPyError.self) { try NPYArray(uint8: [1], shape: [1]).doubles() }
    }

    @Test func crcKnownValue() {
        // CRC-32 of "123456789" is the standard check value 0xCBF43926.
        #expect(ZipStore.crc32(Data("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func npyHeaderIsAlignedAndNumpyReadable() throws {
        let data = NPYArray(float32: [Float](repeating: 0, count: 6), shape: [3, 2]).encoded()
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        // When numpy is present, let it be the judge.
        let python = URL(fileURLWithPath: "/usr/bin/env")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("b.npz")
        try NPZ.write([("x", NPYArray(float32: [1, 2, 3, 4, 5, 6], shape: [3, 2])), ("m", NPYArray(int64: [Int64(3), -1, 0], shape: [3]))], to: url)
        let probe = Process()
        probe.executableURL = python
        probe.arguments = ["python3", "-c", "import numpy"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return }
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { return }
        let check = Process()
        check.executableURL = python
        check.arguments = ["python3", "-c", """
            import numpy, sys
            d = numpy.load(sys.argv[1])
            assert d['x'].dtype == numpy.float32 and d['x'].shape == (3, 2) and d['x'][2, 1] == 6
            assert d['m'].dtype == numpy.int64 and list(d['m']) == [3, -1, 0]
            """, url.path]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0)
    }
}
