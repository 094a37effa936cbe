// Reading a network's tensors from either file form the detectors accept.
import Foundation
import Checkpoints

/// The tensors of a converted safetensors file (by extension `.safetensors`) or of a PyTorch
/// state dict (`.pth`, read by ``TorchCheckpoint``), with the reference's names.
func stateDictTensors(at url: URL) throws -> [String: RawTensor] {
    if url.pathExtension == "safetensors" { return try SafeTensorsFile(contentsOf: url).tensors }
    return try TorchCheckpoint(contentsOf: url).tensors
}
