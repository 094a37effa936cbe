// Multi-head scaled dot-product attention between two sets of token rows, over head-contiguous
// query, key and value columns (the projections that feed it are the network's own Linear layers).
import Tensors

/// `softmax(scale Q_h K_h^T) V_h` for every head `h`, on token rows.
public struct MultiHeadAttention: Sendable {
    public let heads: Int
    public let headDim: Int
    /// Factor on the dot products; `1 / sqrt(headDim)` by default.
    public let scale: Float

    public init(heads: Int, headDim: Int, scale: Float? = nil) {
        precondition(heads > 0 && headDim > 0, "MultiHeadAttention: heads and headDim must be positive")
        self.heads = heads
        self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    /// Total channels, `heads * headDim`.
    public var dim: Int { heads * headDim }

    /// Scratch floats one call with these sizes needs.
    public func scratchCount(queryCount: Int, keyCount: Int) -> Int {
        multiHeadAttentionScratchCount(queryCount: queryCount, keyCount: keyCount)
    }

    /// Attends `queryCount` query rows to `keyCount` key and value rows; writes the `dim` leading
    /// columns of each output row.
    public func callAsFunction(query: UnsafePointer<Float>, queryStride: Int, queryCount: Int,
                               key: UnsafePointer<Float>, keyStride: Int,
                               value: UnsafePointer<Float>, valueStride: Int, keyCount: Int,
                               output: UnsafeMutablePointer<Float>, outputStride: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        multiHeadAttention(query: query, queryStride: queryStride, queryCount: queryCount,
                           key: key, keyStride: keyStride, value: value, valueStride: valueStride, keyCount: keyCount,
                           heads: heads, headDim: headDim, scale: scale,
                           output: output, outputStride: outputStride, scratch: scratch)
    }
}
