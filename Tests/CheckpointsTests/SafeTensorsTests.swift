import Foundation
import Testing
@testable import Checkpoints
import Networks

@Suite struct SafeTensorsTests {
    @Test func roundTrip() throws {
        var file = SafeTensorsFile(metadata: ["model": "superpoint"])
        file.tensors["a.weight"] = RawTensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, -6.5])
        file.tensors["b"] = RawTensor(dtype: .i64, shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0])
        let back = try SafeTensorsFile(data: try file.serialized())
        #expect(back.metadata == ["model": "superpoint"])
        #expect(back.tensors == file.tensors)
        #expect(back.tensors["a.weight"]?.floatValues() == [1, 2, 3, 4, 5, -6.5])
        #expect(back.tensors["b"]?.intValues() == [7])
    }

    @Test func halfConversion() {
        #expect(halfToFloat(0x3c00) == 1)
        #expect(halfToFloat(0xc000) == -2)
        #expect(halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(halfToFloat(0x7c00) == .infinity)
        #expect(halfToFloat(0x7e00).isNaN)
    }

    @Test func weightStoreChecks() throws {
        let store = WeightStore(tensors: ["x.w": RawTensor(shape: [2], floats: [1, 2]), "x.extra": RawTensor(shape: [1], floats: [0])])
        let scope = store.root.scoped("x")
        #expect(try scope.tensor("w", [2]) == [1, 2])
        #expect(throws: WeightError.wrongShape(name: "x.w", expected: [3], found: [2])) { try scope.tensor("w", [3]) }
        #expect(throws: WeightError.missing(name: "x.b", expected: [2])) { try scope.tensor("b", [2]) }
        #expect(throws: WeightError.unexpected(name: "x.extra", shape: [1])) { try store.finish() }
    }
}
