// The ALIKED weight schema against the released state dicts (names, shapes) and the variant
// read back from shapes.
import Foundation
import Testing
import Checkpoints
@testable import Networks

@Suite struct ALIKEDWeightsTests {
    @Test(arguments: ALIKEDVariant.allCases)
    func schemaMatchesReleasedFile(_ variant: ALIKEDVariant) throws {
        guard let url = DetectorFixtures.weights("\(variant.rawValue).pth") else {
            print("ALIKED schema \(variant.rawValue): skipped, \(DetectorFixtures.missingWeights)")
            return
        }
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        let schema = ALIKED.weightSchema(variant)
        var expected: [String: [Int]] = [:]
        for entry in schema.entries { expected[entry.name] = entry.shape }
        let required = Set(schema.entries.filter { !$0.optional }.map(\.name))
        #expect(required.isSubset(of: Set(checkpoint.names)), "missing: \(required.subtracting(checkpoint.names).sorted())")
        for name in checkpoint.names {
            #expect(expected[name] == checkpoint.tensors[name]?.shape, "\(name)")
        }
        let read = ALIKED.variant { checkpoint.tensors[$0]?.shape }
        #expect(read == (variant == .n16rot ? .n16 : variant))
    }
}
