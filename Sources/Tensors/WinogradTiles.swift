// What the Winograd variants (F(2x2, 3x3) in Winograd.swift, F(4x4, 3x3) in WinogradF4.swift,
// F(4x4, 5x5) in Winograd5x5.swift) share: the filter transform U = G g G^T, and the tile pipeline
// of a band of output rows (gather each tile's input patch, transform it, one GEMM per transform
// position, transform the products back), run in balanced batches spread over the workers.

/// `U = G g G^T` of every (input, output) channel pair of a k x k convolution (`G` is
/// `side x k`), in double precision, laid out `[positions][inChannels][outChannels]` with
/// `positions = side^2`.
func winogradFilterTransform(_ conv: Conv2D, g: [[Double]]) -> [Float] {
    let cin = conv.inChannels, cout = conv.outChannels, side = g.count, r = conv.kernelSize
    precondition(g.allSatisfy { $0.count == r }, "winogradFilterTransform: G must have \(r) columns")
    var u = [Float](repeating: 0, count: side * side * cin * cout)
    conv.gemmWeights.withUnsafeBufferPointer { w in
        var k = [[Double]](repeating: [Double](repeating: 0, count: r), count: r)
        var gk = [[Double]](repeating: [Double](repeating: 0, count: r), count: side)
        for ci in 0..<cin {
            for co in 0..<cout {
                // w[(ky * r + kx) * cin + ci][co]
                for ky in 0..<r { for kx in 0..<r { k[ky][kx] = Double(w[((ky * r + kx) * cin + ci) * cout + co]) } }
                for i in 0..<side {
                    for b in 0..<r {
                        var sum = 0.0
                        for a in 0..<r { sum += g[i][a] * k[a][b] }
                        gk[i][b] = sum
                    }
                }
                for i in 0..<side {
                    for j in 0..<side {
                        var sum = 0.0
                        for b in 0..<r { sum += gk[i][b] * g[j][b] }
                        u[((i * side + j) * cin + ci) * cout + co] = Float(sum)
                    }
                }
            }
        }
    }
    return u
}

/// Floats between the slabs of consecutive transform positions in a batch of `tilesPerBatch` tiles
/// with `channels` values each: the slab plus one cache line, so that the slabs (often a power of
/// two in size) do not all map to the same cache sets. The padding also lets a transform read a
/// whole 8-float vector at any channel of a row (see ``outputTransformF4x5``).
@inline(__always)
func winogradPositionStride(tilesPerBatch: Int, channels: Int) -> Int { tilesPerBatch * channels + 16 }

/// Scratch floats of ``runWinogradTiles``: per worker, a batch of transformed inputs
/// `[positions][tiles][inChannels]` and products `[positions][tiles][outChannels]`, `inChannels`
/// zeros for the padding and `extra` floats for the variant's own use.
func winogradScratchCount(positions: Int, tilesPerBatch: Int, inChannels: Int, outChannels: Int, extra: Int = 0) -> Int {
    Parallel.workers * (positions * (winogradPositionStride(tilesPerBatch: tilesPerBatch, channels: inChannels)
                                     + winogradPositionStride(tilesPerBatch: tilesPerBatch, channels: outChannels))
                        + inChannels + extra)
}

/// Computes output rows `rows` of a Winograd convolution with a `kernel x kernel` filter (padding
/// `kernel / 2`) whose output tiles are `tileSide` pixels square (input patches
/// `tileSide + kernel - 1`): tiles are taken in row-major order in batches of at most
/// `tilesPerBatch`, the batches spread over the workers (their outputs are disjoint).
///
/// - `inputTransform(patch, v, stride, extra)`: `patch` holds the `patchSide^2` pixel pointers of
///   a tile (zeros outside the map); write its transform, position `k`'s `inChannels` values at
///   `v + k * stride`.
/// - `outputTransform(ty, tx, m, stride, extra)`: position `k`'s `outChannels` products of the
///   tile are at `m + k * stride`; write the outputs of tile row `ty`, column `tx` (`m`'s
///   positions may be overwritten).
///
/// The batch is stored position-major (`[positions][tiles][channels]`) so that each position's
/// GEMM reads and writes contiguous matrices: with the tile-major layout the rows were
/// `positions * channels` floats apart, 4 KB for F(2x2) at 64 channels, and every row of A and C
/// fell in the same cache sets.
func runWinogradTiles(
    tileSide: Int, kernel: Int = 3, input: MapRows, width: Int, rows: Range<Int>, inChannels cin: Int, outChannels cout: Int,
    tilesPerBatch: Int, transformedWeights: [Float], scratch: UnsafeMutablePointer<Float>, extra: Int,
    inputTransform: (UnsafePointer<UnsafePointer<Float>>, UnsafeMutablePointer<Float>, _ stride: Int, UnsafeMutablePointer<Float>) -> Void,
    outputTransform: (_ ty: Int, _ tx: Int, UnsafeMutablePointer<Float>, _ stride: Int, UnsafeMutablePointer<Float>) -> Void
) {
    let patchSide = tileSide + kernel - 1, positions = patchSide * patchSide, pad = kernel / 2
    let tileCols = (width + tileSide - 1) / tileSide, tileRows = (rows.count + tileSide - 1) / tileSide
    let totalTiles = tileRows * tileCols
    let rowStride = width * cin
    let perWorker = winogradScratchCount(positions: positions, tilesPerBatch: tilesPerBatch, inChannels: cin,
                                         outChannels: cout, extra: extra) / Parallel.workers
    let inStride = winogradPositionStride(tilesPerBatch: tilesPerBatch, channels: cin)
    let outStride = winogradPositionStride(tilesPerBatch: tilesPerBatch, channels: cout)
    let batches = Parallel.balancedChunks(count: totalTiles, maxPerChunk: tilesPerBatch)
    Parallel.forEachChunk(batches) { batch, worker in
        let transformed = scratch + worker * perWorker      // [positions][tiles][cin], inStride apart
        let products = transformed + positions * inStride   // [positions][tiles][cout], outStride apart
        let zeros = products + positions * outStride        // cin zeros for the padding
        let extraScratch = zeros + cin
        zeros.update(repeating: 0, count: cin)
        let tiles = Parallel.range(batch, of: batches, count: totalTiles)
        // Stack storage for a patch's pixel pointers: no heap allocation per call.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: positions) { patchBuffer in
            let patch = patchBuffer.baseAddress!
            for (t, tile) in tiles.enumerated() {
                let ty = tile / tileCols, tx = tile % tileCols
                let y0 = rows.lowerBound + tileSide * ty - pad, x0 = tileSide * tx - pad
                for k in 0..<positions { patch[k] = UnsafePointer(zeros) }
                for i in 0..<patchSide where input.validRows.contains(y0 + i) {
                    let row = input.base + (y0 + i - input.firstRow) * rowStride
                    for j in 0..<patchSide where x0 + j >= 0 && x0 + j < width { patch[i * patchSide + j] = row + (x0 + j) * cin }
                }
                inputTransform(UnsafePointer(patch), transformed + t * cin, inStride, extraScratch)
            }
        }
        // One GEMM per transform position: products[xi][t][:] = V[xi][t][:] x U[xi].
        transformedWeights.withUnsafeBufferPointer { u in
            for xi in 0..<positions {
                sgemm(m: tiles.count, n: cout, k: cin,
                      a: transformed + xi * inStride, lda: cin,
                      b: u.baseAddress! + xi * cin * cout, ldb: cout,
                      c: products + xi * outStride, ldc: cout)
            }
        }
        for (t, tile) in tiles.enumerated() {
            outputTransform(tile / tileCols, tile % tileCols, products + t * cout, outStride, extraScratch)
        }
    }
}
