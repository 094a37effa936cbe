// libFuzzer entry point for the weight readers, compiled together with Sources/Checkpoints by
// Tools/fuzz/libfuzzer.sh (not part of Package.swift). FUZZ_TARGET picks the reader:
//   torch        TorchCheckpoint(bytes:) — legacy (pickle sequence + raw storages) and zip layouts
//   pickle       PickleReader alone, persistent ids passed through unchanged
//   safetensors  SafeTensorsFile(data:)
// Every input must either parse or throw the reader's own error type; anything else (a trap, an
// unexpected error type) aborts so libFuzzer records the input as a crash.
import Foundation

enum FuzzTarget: String { case torch, pickle, safetensors }

nonisolated(unsafe) var fuzzTarget = FuzzTarget.torch

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "torch"
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("FUZZ_TARGET must be torch, pickle or safetensors, not '\(name)'\n".utf8))
        exit(2)
    }
    fuzzTarget = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { [UInt8](UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        switch fuzzTarget {
        case .torch:
            let checkpoint = try TorchCheckpoint(bytes: bytes, name: "fuzz.pth")
            // Touch every tensor so a lazily wrong shape/element count would show.
            for name in checkpoint.names {
                guard let tensor = checkpoint.tensors[name] else { fatalError("name '\(name)' without tensor") }
                _ = tensor.shape.reduce(1, *)
            }
        case .pickle:
            var reader = PickleReader(bytes: bytes, persistentLoad: { id, _ in id })
            let result = try reader.read()
            precondition(result.end <= bytes.count)
        case .safetensors:
            let file = try SafeTensorsFile(data: Data(bytes), name: "fuzz.safetensors")
            // A parsed file must serialise again.
            _ = try file.serialized()
        }
    } catch is CheckpointError {
    } catch is PickleError {
    } catch is SafeTensorsError {
    } catch {
        fatalError("unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}
