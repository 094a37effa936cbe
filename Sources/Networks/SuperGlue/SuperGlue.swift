// SuperGlue inference, reproducing models/superglue.py of magicleap/SuperGluePretrainedNetwork
// (Sarlin, DeTone, Malisiewicz, Rabinovich: "SuperGlue: Learning Feature Matching with Graph
// Neural Networks", CVPR 2020) on its state_dict layout.
//
// Layout: the tokens of both images are stacked, image 0 first, as rows of one matrix so that
// every projection of a layer is a single GEMM over both images. Each token row holds the
// descriptor in its first D columns and the attention message of the current layer in the next
// D, which is exactly the [x, message] concatenation the layer MLP reads.
//
// Load-time rewrites (exact in real arithmetic; they change only float32 rounding):
// - BatchNorm (inference mode) folded into the preceding 1x1 convolution.
// - The reference splits channels into heads with view(batch, headDim, heads, n), so channel c
//   belongs to head c % heads. Rows of the query/key/value projections and columns of the merge
//   projection are permuted so that each head's channels are contiguous.
// - The merge projection is multiplied into the message half of the first MLP convolution,
//   which saves one D x D GEMM per layer.
//
// Everything before layer 1 (a cross layer) reads one image only: the keypoint encoding, layer
// 0's self attention and MLP, and layer 1's query, key and value projections. That part is
// computed per image on the image's own rows, so `prepare` can compute image 0's once and every
// later match copies it in instead: the same function on the same rows, hence the same bits.
import Foundation
import Checkpoints
import Layers
import Tensors

/// The SuperGlue matcher: attentional graph neural network plus optimal transport.
///
/// ```swift
/// let superGlue = try SuperGlue(weights: url, config: .init(weights: .indoor, sinkhornIterations: 20))
/// let matches = try superGlue.match(features0, features1)
/// ```
///
/// A matcher is immutable after loading and may be shared by concurrent tasks; each call borrows
/// a preallocated workspace from an internal pool (one per concurrent caller) and returns it.
public final class SuperGlue: Sendable {
    /// The configuration the matcher was built with.
    public let config: SuperGlueConfig
    /// Number of attentional layers found in the checkpoint (18 in the published weights).
    public var layerCount: Int { layers.count }

    private let keypointEncoder: MLP  // kenc.encoder: 3 -> 32 -> 64 -> 128 -> 256 -> D, BatchNorm folded
    private let layers: [PropagationLayer]  // gnn.layers.N, alternating self and cross attention
    private let finalProjection: Linear  // final_proj: weight [D, D]
    private let binScore: Float  // bin_score: the dustbin's score, a scalar
    private let attention: MultiHeadAttention
    private let workspaces = WorkspacePool { SuperGlueWorkspace() }
    /// Marks the queries this instance prepared.
    private let preparedOwner = PreparedStateOwner()

    /// Number of attention heads; fixed by the architecture.
    public static let headCount = 4

    /// Loads a matcher from a safetensors checkpoint with the reference's state_dict names.
    public convenience init(weights url: URL, config: SuperGlueConfig = SuperGlueConfig()) throws {
        try self.init(weights: SafeTensorsFile(contentsOf: url), config: config)
    }

    /// Builds a matcher from checkpoint tensors with the reference's state_dict names.
    ///
    /// Throws when a tensor is missing, has the wrong shape, is not finite, or is not used by the
    /// network, and when the file's `weights` metadata (if any) names another weight set.
    public convenience init(weights file: SafeTensorsFile, config: SuperGlueConfig = SuperGlueConfig()) throws {
        if let stored = file.metadata["weights"], stored != config.weights.rawValue {
            throw SuperGlueError.invalidWeights("the checkpoint holds '\(stored)' weights but the configuration asks for '\(config.weights.rawValue)'")
        }
        try self.init(store: WeightStore(file: file), config: config)
    }

    /// Builds a matcher from a weight store; every tensor in the store must be used.
    public init(store: WeightStore, config: SuperGlueConfig = SuperGlueConfig()) throws {
        let dim = config.descriptorDim
        guard dim > 0, dim % Self.headCount == 0 else {
            throw SuperGlueError.invalidConfig("descriptorDim \(dim) is not a positive multiple of \(Self.headCount) heads")
        }
        guard config.keypointEncoder.allSatisfy({ $0 > 0 }) else {
            throw SuperGlueError.invalidConfig("keypoint encoder widths \(config.keypointEncoder) must be positive")
        }
        guard config.sinkhornIterations >= 0 else {
            throw SuperGlueError.invalidConfig("sinkhornIterations \(config.sinkhornIterations) is negative")
        }
        guard config.matchThreshold.isFinite else {
            throw SuperGlueError.invalidConfig("matchThreshold is not finite")
        }
        self.config = config
        let root = store.root

        keypointEncoder = try MLP(conv1dBatchNormReLU: root.scoped("kenc.encoder"), channels: [3] + config.keypointEncoder + [dim])

        // The layer count is whatever the checkpoint holds: gnn.layers.0 ... gnn.layers.(L-1).
        var count = 0
        while root.has("gnn.layers.\(count).attn.merge.weight") { count += 1 }
        guard count > 0 else {
            throw SuperGlueError.invalidWeights("no attentional layers: 'gnn.layers.0.attn.merge.weight' is missing")
        }
        // The published configuration alternates ['self', 'cross'] starting with 'self'.
        layers = try (0..<count).map { index in
            try PropagationLayer(root.scoped("gnn.layers.\(index)"), dim: dim, heads: Self.headCount, isCross: index % 2 == 1)
        }
        finalProjection = try Linear(conv1d: root.scoped("final_proj"), inputs: dim, outputs: dim)
        attention = MultiHeadAttention(heads: Self.headCount, headDim: dim / Self.headCount)
        // [] (scalar). A one-element vector is accepted too, as torch's load_state_dict does for
        // 0-d parameters (numpy writers often store scalars that way).
        let bin = try root.tensor("bin_score", root.shape(of: "bin_score") == [1] ? [1] : [])
        binScore = bin[0]
        try store.finish()
    }

    // MARK: - Matching

    /// Matches the keypoints of two images.
    ///
    /// Throws ``SuperGlueError/invalidFeatures(_:)`` when a feature set is inconsistent (array
    /// lengths, descriptor length, image size, non-finite values). When either side has no
    /// keypoints, every match is -1 and every score 0, and the network does not run.
    public func match(_ features0: Features, _ features1: Features) throws -> Matches {
        try run(features0, nil, features1, keepLogAssignment: false).matches
    }

    /// Computes image 0's part of the network that does not depend on image 1, for matching it
    /// against many images: the keypoint encoding, layer 0 (self attention) and layer 1's
    /// projections of image 0. Keypoints are normalised by each image's own size, so none of this
    /// reads image 1; from layer 1's cross attention on, image 0's state depends on image 1.
    ///
    /// Throws ``SuperGlueError/invalidFeatures(_:)`` for inconsistent features.
    public func prepare(_ features0: Features) throws -> PreparedQuery {
        try validate(features0, name: "features0")
        let count = features0.count
        guard count > 0 else { return PreparedQuery(features: features0, state: nil) }
        let dim = config.descriptorDim
        return workspaces.withWorkspace { workspace in
            let tokenStride = 2 * dim
            let tokens = workspace.tokens.reserve(count * tokenStride)
            let qkv = workspace.qkv.reserve(max(count * 3 * dim, keypointEncoder.scratchCount(rows: count)))
            let hidden = workspace.hidden.reserve(count * max(2 * dim, 3))
            let scratch = workspace.attention.reserve(attention.scratchCount(queryCount: count, keyCount: count))
            encodeImage(features0, first: 0, tokens: tokens, qkv: qkv, hidden: hidden, attentionScratch: scratch)
            var state = [Float](repeating: 0, count: count * dim)
            state.withUnsafeMutableBufferPointer { out in
                for r in 0..<count { (out.baseAddress! + r * dim).update(from: tokens + r * tokenStride, count: dim) }
            }
            let projections = layers.count > 1 ? Array(UnsafeBufferPointer(start: qkv, count: count * 3 * dim)) : []
            return PreparedQuery(features: features0, state: SuperGlueQueryState(owner: preparedOwner, tokens: state, projections: projections))
        }
    }

    /// Matches a query prepared by this matcher (``prepare(_:)``) against image 1; the result is
    /// bit for bit the one of matching the query's features as plain features.
    ///
    /// Throws ``SuperGlueError/invalidFeatures(_:)`` when image 1's features are inconsistent or
    /// the query was prepared by another matcher instance.
    public func match(_ query: PreparedQuery, _ features1: Features) throws -> Matches {
        try run(query.features, preparedState(query), features1, keepLogAssignment: false).matches
    }

    /// Matches two images and also returns the log assignment matrix after Sinkhorn.
    ///
    /// The matrix has shape `[count0 + 1, count1 + 1]`, the last row and column being the
    /// dustbins; entry `(i, j)` is `log P_ij + log(count0 + count1)` for the transport plan `P`.
    /// It is nil when either side has no keypoints.
    public func matchWithLogAssignment(_ features0: Features, _ features1: Features) throws -> (matches: Matches, logAssignment: Tensor?) {
        try run(features0, nil, features1, keepLogAssignment: true)
    }

    /// The matches and log assignment matrix of a prepared query (see the plain variant).
    public func matchWithLogAssignment(_ query: PreparedQuery, _ features1: Features) throws -> (matches: Matches, logAssignment: Tensor?) {
        try run(query.features, preparedState(query), features1, keepLogAssignment: true)
    }

    /// The state of a query prepared by this instance; nil for an unprepared one.
    private func preparedState(_ query: PreparedQuery) throws -> SuperGlueQueryState? {
        guard let state = query.state else { return nil }
        guard let own = state as? SuperGlueQueryState, own.owner === preparedOwner else {
            throw SuperGlueError.invalidFeatures("the query was prepared by another matcher; prepare it with this one")
        }
        return own
    }

    /// Matches image 0 (prepared when `prepared` is given, validated then) against image 1.
    private func run(_ features0: Features, _ prepared: SuperGlueQueryState?, _ features1: Features,
                     keepLogAssignment: Bool) throws -> (matches: Matches, logAssignment: Tensor?) {
        if prepared == nil { try validate(features0, name: "features0") }
        try validate(features1, name: "features1")
        let count0 = features0.count, count1 = features1.count
        guard count0 > 0, count1 > 0 else {
            return (Matches.unmatched(count0: count0, count1: count1), nil)
        }
        let workspace = workspaces.take()
        defer { workspaces.give(workspace) }
        let scores = forward(features0, prepared, features1, workspace: workspace)
        let columns = count1 + 1
        let matches = mutualMatches(logAssignment: scores, count0: count0, count1: count1, rowStride: columns,
                                    threshold: config.matchThreshold)
        let assignment = keepLogAssignment
            ? Tensor(shape: [count0 + 1, count1 + 1], data: Array(UnsafeBufferPointer(start: scores, count: (count0 + 1) * columns)))
            : nil
        return (matches, assignment)
    }

    private func validate(_ features: Features, name: String) throws {
        let n = features.count
        guard features.descriptorDim == config.descriptorDim else {
            throw SuperGlueError.invalidFeatures("\(name) has \(features.descriptorDim)-dimensional descriptors, the matcher expects \(config.descriptorDim)")
        }
        guard features.keypoints.count == 2 * n else {
            throw SuperGlueError.invalidFeatures("\(name) has \(features.keypoints.count) keypoint coordinates for \(n) scores (expected \(2 * n))")
        }
        guard features.descriptors.count == n * features.descriptorDim else {
            throw SuperGlueError.invalidFeatures("\(name) has \(features.descriptors.count) descriptor values for \(n) keypoints (expected \(n * features.descriptorDim))")
        }
        // The size only enters the keypoint normalisation, which an empty set never reaches.
        guard n == 0 || (features.imageWidth > 0 && features.imageHeight > 0) else {
            throw SuperGlueError.invalidFeatures("\(name) has image size \(features.imageWidth) x \(features.imageHeight)")
        }
        guard features.keypoints.allSatisfy(\.isFinite), features.scores.allSatisfy(\.isFinite),
              features.descriptors.allSatisfy(\.isFinite)
        else {
            throw SuperGlueError.invalidFeatures("\(name) contains NaN or infinite values")
        }
    }

    /// Runs the network and Sinkhorn; returns the `(count0 + 1) x (count1 + 1)` log assignment,
    /// which lives in `workspace`. Image 0's part before layer 1 is copied from `prepared` when given.
    private func forward(_ features0: Features, _ prepared: SuperGlueQueryState?, _ features1: Features,
                         workspace: SuperGlueWorkspace) -> UnsafeMutablePointer<Float> {
        let dim = config.descriptorDim
        let count0 = features0.count, count1 = features1.count
        let tokenCount = count0 + count1
        let tokenStride = 2 * dim
        let tokens = workspace.tokens.reserve(tokenCount * tokenStride)
        // Each image's keypoint encoder uses the rows of qkv from its first row on as scratch.
        let qkv = workspace.qkv.reserve(max(tokenCount * 3 * dim, count0 * 3 * dim + keypointEncoder.scratchCount(rows: max(count0, count1))))
        let hidden = workspace.hidden.reserve(tokenCount * max(2 * dim, 3))
        // Self attention of each image and cross attention both ways; block rows depend on the keys.
        let attentionScratch = workspace.attention.reserve(max(
            max(attention.scratchCount(queryCount: count0, keyCount: count0), attention.scratchCount(queryCount: count1, keyCount: count1)),
            max(attention.scratchCount(queryCount: count0, keyCount: count1), attention.scratchCount(queryCount: count1, keyCount: count0))))
        let couplings = workspace.couplings.reserve((count0 + 1) * (count1 + 1))

        if let prepared {
            prepared.tokens.withUnsafeBufferPointer { state in
                for r in 0..<count0 { (tokens + r * tokenStride).update(from: state.baseAddress! + r * dim, count: dim) }
            }
            prepared.projections.withUnsafeBufferPointer { projections in
                if let base = projections.baseAddress { qkv.update(from: base, count: projections.count) }
            }
        } else {
            encodeImage(features0, first: 0, tokens: tokens, qkv: qkv, hidden: hidden, attentionScratch: attentionScratch)
        }
        encodeImage(features1, first: count0, tokens: tokens, qkv: qkv, hidden: hidden, attentionScratch: attentionScratch)

        let ranges = [(start: 0, count: count0), (start: count0, count: count1)]
        for (index, layer) in layers.enumerated() where index > 0 {
            // Queries, keys and values of every token of both images in one GEMM (layer 1's
            // were computed per image with layer 0).
            if index > 1 { layer.qkv.apply(tokens, stride: tokenStride, rows: tokenCount, into: qkv, outputStride: 3 * dim) }
            for image in 0..<2 {
                let target = ranges[image], source = ranges[layer.isCross ? 1 - image : image]
                let sourceRows = qkv + source.start * 3 * dim
                attention(query: qkv + target.start * 3 * dim, queryStride: 3 * dim, queryCount: target.count,
                          key: sourceRows + dim, keyStride: 3 * dim,
                          value: sourceRows + 2 * dim, valueStride: 3 * dim, keyCount: source.count,
                          output: tokens + target.start * tokenStride + dim, outputStride: tokenStride,
                          scratch: attentionScratch)
            }
            layer.mlpHidden.apply(tokens, stride: tokenStride, rows: tokenCount, into: hidden, outputStride: 2 * dim)
            // Residual update of both images at once; every delta was computed from the old values.
            layer.mlpOutput.apply(hidden, stride: 2 * dim, rows: tokenCount, into: tokens, outputStride: tokenStride, accumulate: true)
        }

        let projected = qkv  // [T, D]
        finalProjection.apply(tokens, stride: tokenStride, rows: tokenCount, into: projected, outputStride: dim)
        sgemm(transB: true, m: count0, n: count1, k: dim, alpha: 1 / Float(dim).squareRoot(),
              a: projected, lda: dim, b: projected + count0 * dim, ldb: dim,
              c: couplings, ldc: count1 + 1)
        logOptimalTransport(couplings: couplings, rows: count0, columns: count1, binScore: binScore,
                            iterations: config.sinkhornIterations, method: config.sinkhornMethod,
                            workspace: workspace.sinkhorn)
        return couplings
    }

    /// One image's part of the network before the first cross layer, on its rows
    /// `first..<first + count` of `tokens` and `qkv`: keypoint encoding plus descriptor, layer 0
    /// (self attention and MLP), then layer 1's queries, keys and values. The keypoint encoder's
    /// scratch starts at row `first` of `qkv`; `hidden` and `attentionScratch` are scratch.
    private func encodeImage(_ features: Features, first: Int, tokens: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
                             hidden: UnsafeMutablePointer<Float>, attentionScratch: UnsafeMutablePointer<Float>) {
        let dim = config.descriptorDim, count = features.count, tokenStride = 2 * dim
        guard count > 0 else { return }
        let rows = tokens + first * tokenStride, projections = qkv + first * 3 * dim
        // Keypoint encoder on rows (x, y, score) in the reference's normalised coordinates; its
        // output is the first half of each token row.
        writeEncoderInput(features, into: hidden)
        keypointEncoder.apply(hidden, stride: 3, rows: count, into: rows, outputStride: tokenStride, scratch: projections)
        addDescriptors(features, to: rows, stride: tokenStride)
        let selfLayer = layers[0]  // 'self': reads this image only
        selfLayer.qkv.apply(rows, stride: tokenStride, rows: count, into: projections, outputStride: 3 * dim)
        attention(query: projections, queryStride: 3 * dim, queryCount: count,
                  key: projections + dim, keyStride: 3 * dim, value: projections + 2 * dim, valueStride: 3 * dim, keyCount: count,
                  output: rows + dim, outputStride: tokenStride, scratch: attentionScratch)
        selfLayer.mlpHidden.apply(rows, stride: tokenStride, rows: count, into: hidden, outputStride: 2 * dim)
        selfLayer.mlpOutput.apply(hidden, stride: 2 * dim, rows: count, into: rows, outputStride: tokenStride, accumulate: true)
        if layers.count > 1 { layers[1].qkv.apply(rows, stride: tokenStride, rows: count, into: projections, outputStride: 3 * dim) }
    }

    /// Rows (x, y, score) with the reference's normalisation: centre the image and divide by
    /// 0.7 times its longer side.
    private func writeEncoderInput(_ features: Features, into output: UnsafeMutablePointer<Float>) {
        let width = Float(features.imageWidth), height = Float(features.imageHeight)
        let centerX = width / 2, centerY = height / 2
        // float32 product, as the reference multiplies a float32 tensor by the scalar 0.7.
        let scaling = max(width, height) * Float(0.7)
        features.keypoints.withUnsafeBufferPointer { keypoints in
            features.scores.withUnsafeBufferPointer { scores in
                for i in 0..<features.count {
                    output[3 * i] = (keypoints[2 * i] - centerX) / scaling
                    output[3 * i + 1] = (keypoints[2 * i + 1] - centerY) / scaling
                    output[3 * i + 2] = scores[i]
                }
            }
        }
    }

    private func addDescriptors(_ features: Features, to tokens: UnsafeMutablePointer<Float>, stride: Int) {
        let dim = features.descriptorDim
        features.descriptors.withUnsafeBufferPointer { descriptors in
            for i in 0..<features.count {
                let row = tokens + i * stride
                for c in 0..<dim { row[c] = descriptors[i * dim + c] + row[c] }
            }
        }
    }
}

// MARK: - Layers

/// One attentional propagation layer with its load-time rewrites applied.
struct PropagationLayer: Sendable {
    let isCross: Bool
    /// Query, key and value projections stacked; output channels head-contiguous. Weight [3D, D].
    let qkv: Linear
    /// mlp.0 with its BatchNorm folded in, message half multiplied by the merge projection,
    /// followed by ReLU. Weight [2D, 2D] acting on [x, attention output].
    let mlpHidden: Linear
    /// mlp.3. Weight [D, 2D].
    let mlpOutput: Linear

    init(_ scope: WeightStore.Scope, dim: Int, heads: Int, isCross: Bool) throws {
        self.isCross = isCross
        let headDim = dim / heads
        // Position h * headDim + d of the reordered channels is channel d * heads + h of the reference.
        let referenceChannel = (0..<dim).map { position in (position % headDim) * heads + position / headDim }

        var qkvWeight = [Float](), qkvBias = [Float]()
        qkvWeight.reserveCapacity(3 * dim * dim)
        for index in 0..<3 {
            let projection = try Linear(conv1d: scope.scoped("attn.proj.\(index)"), inputs: dim, outputs: dim)
            for position in 0..<dim {
                let channel = referenceChannel[position]
                qkvWeight.append(contentsOf: projection.weight[(channel * dim)..<((channel + 1) * dim)])
                qkvBias.append(projection.bias[channel])
            }
        }
        qkv = Linear(weight: qkvWeight, bias: qkvBias, inputs: dim, outputs: 3 * dim)

        let merge = try Linear(conv1d: scope.scoped("attn.merge"), inputs: dim, outputs: dim)
        var first = try Linear(conv1d: scope.scoped("mlp.0"), inputs: 2 * dim, outputs: 2 * dim)
        // first(x, merge(o)) = Wx x + Wm (M o + m) + b = Wx x + (Wm M) o + (Wm m + b), in double.
        var mergeColumnsReordered = [Double](repeating: 0, count: dim * dim)  // [D, D]
        for k in 0..<dim {
            for position in 0..<dim { mergeColumnsReordered[k * dim + position] = Double(merge.weight[k * dim + referenceChannel[position]]) }
        }
        var messageWeights = [Double](repeating: 0, count: 2 * dim * dim)  // [2D, D]: Wm
        for row in 0..<(2 * dim) {
            for k in 0..<dim { messageWeights[row * dim + k] = Double(first.weight[row * 2 * dim + dim + k]) }
        }
        var product = [Double](repeating: 0, count: 2 * dim * dim)  // [2D, D]: Wm M
        messageWeights.withUnsafeBufferPointer { wm in
            mergeColumnsReordered.withUnsafeBufferPointer { merge in
                product.withUnsafeMutableBufferPointer { out in
                    dgemm(m: 2 * dim, n: dim, k: dim, a: wm.baseAddress!, lda: dim, b: merge.baseAddress!, ldb: dim,
                          c: out.baseAddress!, ldc: dim)
                }
            }
        }
        for row in 0..<(2 * dim) {
            var biasTerm = Double(first.bias[row])
            for k in 0..<dim { biasTerm += messageWeights[row * dim + k] * Double(merge.bias[k]) }
            for position in 0..<dim { first.weight[row * 2 * dim + dim + position] = Float(product[row * dim + position]) }
            first.bias[row] = Float(biasTerm)
        }
        try first.foldBatchNorm(scope.scoped("mlp.1"))
        first.activation = .relu
        mlpHidden = first
        mlpOutput = try Linear(conv1d: scope.scoped("mlp.3"), inputs: 2 * dim, outputs: dim)
    }
}

// MARK: - Prepared query

/// Image 0's part of the network before the first cross layer (see ``SuperGlue/prepare(_:)``).
struct SuperGlueQueryState: Sendable {
    let owner: PreparedStateOwner
    let tokens: [Float]  // [n, D]: descriptor + keypoint encoding after layer 0
    let projections: [Float]  // [n, 3D]: layer 1's queries, keys and values; empty with one layer
}

// MARK: - Workspace

/// The buffers of one forward pass, sized by the largest pair seen so far.
final class SuperGlueWorkspace {
    let tokens = ScratchBuffer()  // [T, 2D]: descriptor | attention message, T = count0 + count1
    let qkv = ScratchBuffer()  // [T, 3D]: queries, keys, values; also the encoder's scratch
    let hidden = ScratchBuffer()  // [T, 2D]: MLP hidden layer; also the encoder's input [T, 3]
    let attention = ScratchBuffer()  // score blocks of the widest attention of the pair
    let couplings = ScratchBuffer()  // [count0 + 1, count1 + 1]: scores, then log assignment
    let sinkhorn = SinkhornWorkspace()
}
