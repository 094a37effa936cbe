// LightGlue inference, reproducing lightglue/lightglue.py of cvg/LightGlue (Lindenberger,
// Sarlin, Pollefeys: "LightGlue: Local Feature Matching at Light Speed", ICCV 2023) on its
// state_dict layout, with its adaptive depth (early exit) and width (point pruning).
//
// Layout: the tokens of both images are stacked, image 0 first, as rows of one matrix, so that
// every projection is one GEMM over both images. Each token row holds the descriptor in its
// first D columns and the current block's message in the next D: the [x, message] input of the
// block's feed-forward network. Pruning compacts the rows (and their rotary tables) in place, so
// the working set only shrinks and no buffer is reallocated within a call.
//
// Load-time rewrites (no arithmetic change):
// - Old checkpoint names (`self_attn.I.*`, `cross_attn.I.*`) are renamed once to the module
//   names (`transformers.I.self_attn.*`, ...); disk_lightglue.pth's unused `log_assignment.I.r`
//   is accepted and ignored.
// - Wqkv's output rows are interleaved per head as (head, dim, q|k|v); they are regrouped into
//   [q | k | v] blocks with each head's channels contiguous.
// - The cross block's to_qk and to_v are stacked into one [2D, D] projection.
//
// Everything before layer 0's cross attention reads one image only: the input projection, the
// rotary tables, layer 0's self block and the cross block's projections. That part is computed
// per image on the image's own rows, so `prepare` can compute image 0's once and every later
// match copies it in instead: the same function on the same rows, hence the same bits.
import Foundation
import Checkpoints
import Layers
import Tensors

/// The LightGlue matcher: a transformer with rotary positional encoding, self and cross
/// attention, a per-layer dual-softmax assignment, early exit and point pruning.
///
/// ```swift
/// let lightGlue = try LightGlue(weights: url)  // converted disk_lightglue.pth, for instance
/// let result = try lightGlue.matchDetailed(features0, features1)
/// ```
///
/// Immutable after loading and safe to share between tasks; each call borrows a preallocated
/// workspace from a pool.
public final class LightGlue: Sendable {
    public let config: LightGlueConfig
    /// Descriptor length of the features (256 SuperPoint, 128 DISK and ALIKED).
    public let inputDim: Int
    /// Width of the transformer, the reference's `descriptor_dim` (256 in the released weights).
    public let width: Int
    public let headCount: Int
    /// Number of transformer layers in the checkpoint (9 in the released weights).
    public var layerCount: Int { layers.count }

    private let inputProjection: Linear?  // input_proj: weight [D, I]; absent when I == D (SuperPoint)
    private let positionalFrequencies: [Float]  // posenc.Wr.weight [h/2, 2]: row j maps (x, y) to angle j
    private let layers: [TransformerLayer]  // transformers.I
    private let assignments: [MatchAssignment]  // log_assignment.I
    private let tokenConfidences: [Linear]  // token_confidence.I.token.0: weight [1, D]; one per layer but the last
    private let confidenceThresholds: [Float]  // per layer, computed as the reference's buffer
    private let attention: MultiHeadAttention
    private let workspaces = WorkspacePool { LightGlueWorkspace() }
    /// Marks the queries prepared with these weights (shared by ``with(_:)``: no option changes
    /// the prepared part).
    private let preparedOwner: PreparedStateOwner

    /// Loads a matcher from a safetensors checkpoint (old or new state_dict names).
    public convenience init(weights url: URL, config: LightGlueConfig = LightGlueConfig()) throws {
        try self.init(weights: SafeTensorsFile(contentsOf: url), config: config)
    }

    /// Builds a matcher from checkpoint tensors with the reference's names, old or new.
    public convenience init(weights file: SafeTensorsFile, config: LightGlueConfig = LightGlueConfig()) throws {
        try self.init(store: WeightStore(tensors: Self.renamed(file.tensors), metadata: file.metadata), config: config)
    }

    /// Builds a matcher from a store holding the new (module) names; every tensor must be used.
    public init(store: WeightStore, config: LightGlueConfig = LightGlueConfig()) throws {
        guard config.depthConfidence.isFinite, config.widthConfidence.isFinite, config.filterThreshold.isFinite else {
            throw LightGlueError.invalidConfig("confidences and threshold must be finite")
        }
        self.config = config
        let root = store.root
        guard let projectionShape = root.shape(of: "log_assignment.0.final_proj.weight"), projectionShape.count == 2 else {
            throw LightGlueError.invalidWeights("'log_assignment.0.final_proj.weight' is missing")
        }
        let dim = projectionShape[0]
        guard let frequencyShape = root.shape(of: "posenc.Wr.weight"), frequencyShape.count == 2 else {
            throw LightGlueError.invalidWeights("'posenc.Wr.weight' is missing")
        }
        guard frequencyShape[1] == 2 else {
            throw LightGlueError.invalidWeights("posenc.Wr.weight has \(frequencyShape[1]) inputs; only (x, y) encodings are supported (no scale/orientation)")
        }
        let headDim = 2 * frequencyShape[0]
        guard headDim > 0, dim % headDim == 0 else {
            throw LightGlueError.invalidWeights("head dimension \(headDim) (from posenc.Wr.weight) does not divide the width \(dim)")
        }
        width = dim
        headCount = dim / headDim
        positionalFrequencies = try root.tensor("posenc.Wr.weight", frequencyShape)
        if let shape = root.shape(of: "input_proj.weight") {
            guard shape.count == 2 else { throw WeightError.wrongShape(name: "input_proj.weight", expected: [dim, 0], found: shape) }
            inputDim = shape[1]
            inputProjection = try Linear(linear: root.scoped("input_proj"), inputs: inputDim, outputs: dim)
        } else {
            inputDim = dim
            inputProjection = nil
        }

        // The layer count is whatever the checkpoint holds: transformers.0 ... transformers.(L-1).
        var count = 0
        while root.has("transformers.\(count).self_attn.Wqkv.weight") { count += 1 }
        guard count > 0 else { throw LightGlueError.invalidWeights("no transformer layers ('transformers.0.self_attn.Wqkv.weight' or 'self_attn.0.Wqkv.weight')") }
        layers = try (0..<count).map { try TransformerLayer(root.scoped("transformers.\($0)"), dim: dim, heads: dim / headDim) }
        assignments = try (0..<count).map { index in
            let scope = root.scoped("log_assignment.\(index)")
            if scope.has("r") { scope.ignore("r") }  // disk_lightglue.pth: a leftover [1] parameter the model no longer has
            return try MatchAssignment(scope, dim: dim)
        }
        tokenConfidences = try (0..<(count - 1)).map {
            try Linear(linear: root.scoped("token_confidence.\($0).token.0"), inputs: dim, outputs: 1)
        }
        // clip(0.8 + 0.1 exp(-4 i / L), 0, 1) in double, stored as float32 like the reference's buffer.
        confidenceThresholds = (0..<count).map { Float(min(max(0.8 + 0.1 * exp(-4.0 * Double($0) / Double(count)), 0), 1)) }
        attention = MultiHeadAttention(heads: dim / headDim, headDim: headDim)
        preparedOwner = PreparedStateOwner()
        try store.finish()
    }

    private init(sharing other: LightGlue, config: LightGlueConfig) {
        self.config = config
        inputDim = other.inputDim
        width = other.width
        headCount = other.headCount
        inputProjection = other.inputProjection
        positionalFrequencies = other.positionalFrequencies
        layers = other.layers
        assignments = other.assignments
        tokenConfidences = other.tokenConfidences
        confidenceThresholds = other.confidenceThresholds
        attention = other.attention
        preparedOwner = other.preparedOwner
    }

    /// The same weights (shared, not copied) with another configuration.
    public func with(_ config: LightGlueConfig) -> LightGlue { LightGlue(sharing: self, config: config) }

    /// Old checkpoint names renamed to module names, as the reference does at load:
    /// `self_attn.I.rest` -> `transformers.I.self_attn.rest`, `cross_attn.I.rest` likewise.
    /// New names pass through unchanged.
    public static func renamed(_ tensors: [String: RawTensor]) -> [String: RawTensor] {
        var out: [String: RawTensor] = [:]
        for (name, tensor) in tensors { out[renamed(name)] = tensor }
        return out
    }

    static func renamed(_ name: String) -> String {
        for block in ["self_attn", "cross_attn"] where name.hasPrefix(block + ".") {
            let rest = name.dropFirst(block.count + 1)
            guard let dot = rest.firstIndex(of: "."), !rest[..<dot].isEmpty, rest[..<dot].allSatisfy(\.isNumber) else { continue }
            return "transformers.\(rest[..<dot]).\(block).\(rest[rest.index(after: dot)...])"
        }
        return name
    }

    // MARK: - Matching

    /// Matches the keypoints of two images (``matchDetailed(_:_:trace:)`` without the bookkeeping).
    public func match(_ features0: Features, _ features1: Features) throws -> Matches {
        try matchDetailed(features0, features1).matches
    }

    /// Matches the keypoints of two images and reports the stop layer and pruning.
    ///
    /// `trace`, when given, receives intermediate tensors by name (for parity debugging):
    /// `keypoints{0,1}_normalized`, `encoding{0,1}` [2 (cos, sin), n, headDim], `input{0,1}`,
    /// `layer0.q0_rotated` [heads, n0, headDim], and per layer run `layerI.self{0,1}`,
    /// `layerI.cross{0,1}`, `layerI.log_assignment` [n0, n1] (without dustbins),
    /// `layerI.matchability{0,1}`, `layerI.token{0,1}` (not after the last layer), all on the
    /// keypoints still present.
    public func matchDetailed(_ features0: Features, _ features1: Features,
                              trace: ((String, Tensor) -> Void)? = nil) throws -> LightGlueResult {
        try validate(features0, name: "features0")
        try validate(features1, name: "features1")
        let count0 = features0.count, count1 = features1.count
        guard count0 > 0, count1 > 0 else {
            // The reference's loop breaks before layer 0: stop 1, prune 1 (or L without pruning).
            let prune = config.pruning ? 1 : layerCount
            return LightGlueResult(matches: .unmatched(count0: count0, count1: count1), stopLayer: 1,
                                   prune0: Array(repeating: prune, count: count0), prune1: Array(repeating: prune, count: count1))
        }
        let workspace = workspaces.take()
        defer { workspaces.give(workspace) }
        return forward(features0, nil, features1, workspace: workspace, trace: trace)
    }

    /// Computes image 0's part of the network that does not depend on image 1, for matching it
    /// against many images: the input projection, the rotary encoding of its keypoints
    /// (normalised by its own image size), layer 0's self block and layer 0's cross-attention
    /// projections of image 0. From layer 0's cross attention on, image 0's state depends on
    /// image 1. No configuration option changes this part.
    ///
    /// Throws ``LightGlueError/invalidFeatures(_:)`` for inconsistent features.
    public func prepare(_ features0: Features) throws -> PreparedQuery {
        try validate(features0, name: "features0")
        let count = features0.count
        guard count > 0 else { return PreparedQuery(features: features0, state: nil) }
        let dim = width, headDim = attention.headDim, stride = 2 * dim
        return workspaces.withWorkspace { ws in
            let tokens = ws.tokens.reserve(count * stride)
            let rope = ws.rope.reserve(count * 2 * headDim)
            let projections = ws.projections.reserve(count * 3 * dim)
            let shared = ws.shared.reserve(count * 3 * dim + attention.scratchCount(queryCount: count, keyCount: count))
            let context = shared, hidden = shared + count * dim, scratch = shared + count * 3 * dim
            encodeImage(features0, first: 0, tokens: tokens, rope: rope, projections: projections, context: context,
                        hidden: hidden, scratch: scratch, trace: nil, image: 0)
            var state = [Float](repeating: 0, count: count * dim)
            state.withUnsafeMutableBufferPointer { out in
                for r in 0..<count { (out.baseAddress! + r * dim).update(from: tokens + r * stride, count: dim) }
            }
            return PreparedQuery(features: features0, state: LightGlueQueryState(
                owner: preparedOwner, tokens: state, rope: Array(UnsafeBufferPointer(start: rope, count: count * 2 * headDim)),
                crossProjections: Array(UnsafeBufferPointer(start: projections, count: count * 2 * dim))))
        }
    }

    /// Matches a query prepared with these weights (``prepare(_:)``) against image 1.
    public func match(_ query: PreparedQuery, _ features1: Features) throws -> Matches {
        try matchDetailed(query, features1).matches
    }

    /// ``matchDetailed(_:_:trace:)`` for a prepared query: bit for bit the same result as on the
    /// query's features, adaptive depth and width included.
    ///
    /// Throws ``LightGlueError/invalidFeatures(_:)`` when image 1's features are inconsistent or
    /// the query was prepared with other weights.
    public func matchDetailed(_ query: PreparedQuery, _ features1: Features) throws -> LightGlueResult {
        try matchDetailed(query, features1, profile: nil)
    }

    /// ``matchDetailed(_:_:)-(PreparedQuery,_)`` recording the time of each part of the network
    /// in `profile` (for benchmarks): stages accumulate over layers, with the flops of each call.
    public func matchDetailed(_ query: PreparedQuery, _ features1: Features, profile: LayerProfile?) throws -> LightGlueResult {
        guard let state = query.state else { return try matchDetailed(query.features, features1) }
        guard let prepared = state as? LightGlueQueryState, prepared.owner === preparedOwner else {
            throw LightGlueError.invalidFeatures("the query was prepared by another matcher; prepare it with this one")
        }
        try validate(features1, name: "features1")
        guard features1.count > 0 else { return try matchDetailed(query.features, features1) }
        let workspace = workspaces.take()
        defer { workspaces.give(workspace) }
        return forward(query.features, prepared, features1, workspace: workspace, trace: nil, profile: profile)
    }

    private func validate(_ features: Features, name: String) throws {
        let n = features.count
        guard features.descriptorDim == inputDim else {
            throw LightGlueError.invalidFeatures("\(name) has \(features.descriptorDim)-dimensional descriptors, the matcher expects \(inputDim)")
        }
        guard features.keypoints.count == 2 * n, features.descriptors.count == n * inputDim else {
            throw LightGlueError.invalidFeatures("\(name): \(features.keypoints.count) keypoint coordinates and \(features.descriptors.count) descriptor values for \(n) keypoints")
        }
        guard n == 0 || (features.imageWidth > 0 && features.imageHeight > 0) else {
            throw LightGlueError.invalidFeatures("\(name) has image size \(features.imageWidth) x \(features.imageHeight)")
        }
        guard features.keypoints.allSatisfy(\.isFinite), features.descriptors.allSatisfy(\.isFinite) else {
            throw LightGlueError.invalidFeatures("\(name) contains NaN or infinite values")
        }
    }

    /// The forward pass; image 0's part before layer 0's cross attention is copied from
    /// `prepared` when given.
    private func forward(_ features0: Features, _ prepared: LightGlueQueryState?, _ features1: Features,
                         workspace ws: LightGlueWorkspace, trace: ((String, Tensor) -> Void)?,
                         profile: LayerProfile? = nil) -> LightGlueResult {
        let dim = width, headDim = attention.headDim
        let total0 = features0.count, total1 = features1.count, total = total0 + total1
        let stride = 2 * dim
        let tokens = ws.tokens.reserve(total * stride)
        let rope = ws.rope.reserve(total * 2 * headDim)
        let projections = ws.projections.reserve(total * 3 * dim)
        let perRow = ws.perRow.reserve(4 * total)  // token confidence | matchability | log-sigmoids
        // Pruning leaves any counts up to the totals, and the kernel's need is not monotonic in the
        // key count (its block height is rounded): take the largest need over every key count.
        let largest = max(total0, total1)
        let selfScratchCount = (1...largest).reduce(0) { max($0, attention.scratchCount(queryCount: largest, keyCount: $1)) }
        let crossScratchCount = bidirectionalAttentionScratchCount(firstCount: total0, secondCount: total1, headDim: headDim)
        // context | hidden | attention scratch, which the log assignment reuses (see LightGlueWorkspace).
        let shared = ws.shared.reserve(max(total * 3 * dim + max(selfScratchCount, crossScratchCount), total0 * total1))
        let context = shared, hidden = shared + total * dim, attentionScratch = shared + total * 3 * dim

        if let prepared {
            prepared.tokens.withUnsafeBufferPointer { state in
                for r in 0..<total0 { (tokens + r * stride).update(from: state.baseAddress! + r * dim, count: dim) }
            }
            rope.update(from: prepared.rope, count: total0 * 2 * headDim)
            projections.update(from: prepared.crossProjections, count: total0 * 2 * dim)
        } else {
            encodeImage(features0, first: 0, tokens: tokens, rope: rope, projections: projections, context: context,
                        hidden: hidden, scratch: attentionScratch, trace: trace, image: 0)
        }
        profile.measure("encode image 1 (input projection, rotary, layer 0 self block, cross projections)",
                        flops: encodeFlops(total1)) {
            encodeImage(features1, first: total0, tokens: tokens, rope: rope, projections: projections, context: context,
                        hidden: hidden, scratch: attentionScratch, trace: trace, image: 1)
        }

        var count0 = total0, count1 = total1
        var index0 = Array(0..<total0), index1 = Array(0..<total1)
        var prune0 = [Int](repeating: 1, count: total0), prune1 = [Int](repeating: 1, count: total1)
        var stopIndex = 0
        for i in 0..<layerCount {
            stopIndex = i
            if count0 == 0 || count1 == 0 { break }
            let rows = count0 + count1
            let layer = layers[i]
            // Layer 0's self block and cross projections ran per image (encodeImage).
            if i > 0 {
                selfBlock(layer, tokens: tokens, rope: rope, count0: count0, count1: count1, projections: projections, context: context,
                          hidden: hidden, scratch: attentionScratch, trace: nil, profile: profile)
            }
            if let trace { traceImages("layer\(i).self", tokens, count0: count0, count1: count1, trace) }
            crossBlock(layer, tokens: tokens, count0: count0, count1: count1, projections: projections, context: context,
                       hidden: hidden, scratch: attentionScratch, projected: i == 0, profile: profile)
            if let trace {
                traceImages("layer\(i).cross", tokens, count0: count0, count1: count1, trace)
                traceAssignment(layer: i, tokens: tokens, count0: count0, count1: count1, workspace: ws, trace: trace)
            }
            if i == layerCount - 1 { continue }  // no exit or pruning after the last layer

            let confidence = perRow, matchability = perRow + rows
            let threshold = confidenceThresholds[i]
            let exitStart = profile.map { _ in LayerProfile.mark() }
            defer { if let profile, let exitStart { profile.record("token confidence, exit test, pruning", since: exitStart) } }
            if config.earlyExit || trace != nil {
                tokenConfidences[i].apply(tokens, stride: stride, rows: rows, into: confidence, outputStride: 1)
                for r in 0..<rows { confidence[r] = sigmoid(confidence[r]) }
                trace?("layer\(i).token0", Tensor(shape: [count0], data: Array(UnsafeBufferPointer(start: confidence, count: count0))))
                trace?("layer\(i).token1", Tensor(shape: [count1], data: Array(UnsafeBufferPointer(start: confidence + count0, count: count1))))
            }
            if config.earlyExit {
                var unconfident = 0
                for r in 0..<rows where confidence[r] < threshold { unconfident += 1 }
                // Pruned keypoints count as confident: the denominator is the original total.
                let ratio: Float = 1 - Float(unconfident) / Float(total)
                if ratio > Float(config.depthConfidence) { break }
            }
            if config.pruning {
                assignments[i].matchability.apply(tokens, stride: stride, rows: rows, into: matchability, outputStride: 1)
                let minimum = Float(1 - config.widthConfidence)
                var kept = 0, kept0 = 0
                for r in 0..<rows {
                    let keep = sigmoid(matchability[r]) > minimum || (config.earlyExit && confidence[r] <= threshold)
                    guard keep else { continue }
                    if kept != r {
                        (tokens + kept * stride).update(from: tokens + r * stride, count: dim)
                        (rope + kept * 2 * headDim).update(from: rope + r * 2 * headDim, count: 2 * headDim)
                    }
                    if r < count0 {
                        index0[kept] = index0[r]
                        prune0[index0[kept]] += 1
                        kept0 += 1
                    } else {
                        index1[kept - kept0] = index1[r - count0]
                        prune1[index1[kept - kept0]] += 1
                    }
                    kept += 1
                }
                count1 = kept - kept0
                count0 = kept0
            }
        }
        let stopLayer = stopIndex + 1
        if !config.pruning {
            prune0 = Array(repeating: layerCount, count: total0)
            prune1 = Array(repeating: layerCount, count: total1)
        }
        guard count0 > 0, count1 > 0 else {
            return LightGlueResult(matches: .unmatched(count0: total0, count1: total1), stopLayer: stopLayer, prune0: prune0, prune1: prune1)
        }

        let logAssignment = profile.measure("log assignment", flops: 2 * Double(count0 * count1 + count0 + count1) * Double(dim)) {
            assign(layer: stopIndex, tokens: tokens, count0: count0, count1: count1, workspace: ws)
        }
        let compact = profile.measure("mutual matches") {
            mutualMatches(logAssignment: logAssignment, count0: count0, count1: count1, rowStride: count1,
                          threshold: Float(config.filterThreshold))
        }
        // Back to the original keypoint indices; pruned keypoints stay unmatched with score 0.
        var matches = Matches.unmatched(count0: total0, count1: total1)
        for r in 0..<count0 {
            matches.matches0[index0[r]] = compact.matches0[r] < 0 ? -1 : index1[compact.matches0[r]]
            matches.matchingScores0[index0[r]] = compact.matchingScores0[r]
        }
        for r in 0..<count1 {
            matches.matches1[index1[r]] = compact.matches1[r] < 0 ? -1 : index0[compact.matches1[r]]
            matches.matchingScores1[index1[r]] = compact.matchingScores1[r]
        }
        return LightGlueResult(matches: matches, stopLayer: stopLayer, prune0: prune0, prune1: prune1)
    }

    // MARK: - Blocks

    /// One image's part of the network before layer 0's cross attention, on its rows
    /// `first..<first + count`: descriptors (projected) into the x half of `tokens`, rotary tables
    /// into `rope`, layer 0's self block (its projections from row `first` of `projections` with
    /// stride 3D), then layer 0's cross projections into row `first` of `projections` with stride
    /// 2D, where ``crossBlock(_:tokens:count0:count1:projections:context:hidden:scratch:projected:profile:)``
    /// reads them. `context`, `hidden` and `scratch` are scratch.
    private func encodeImage(_ features: Features, first: Int, tokens: UnsafeMutablePointer<Float>, rope: UnsafeMutablePointer<Float>,
                             projections: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
                             hidden: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                             trace: ((String, Tensor) -> Void)?, image: Int) {
        let dim = width, headDim = attention.headDim, stride = 2 * dim, count = features.count
        guard count > 0 else { return }
        let rows = tokens + first * stride, table = rope + first * 2 * headDim
        features.descriptors.withUnsafeBufferPointer { d in
            if let inputProjection {
                inputProjection.apply(d.baseAddress!, stride: inputDim, rows: count, into: rows, outputStride: stride)
            } else {
                for r in 0..<count { (rows + r * stride).update(from: d.baseAddress! + r * dim, count: dim) }
            }
        }
        writeRotaryTables(features, into: table, trace: trace, image: image)
        trace?("input\(image)", rowsTensor(rows, rows: count, columns: dim, stride: stride))
        // Image 1's self projections start after image 0's rows at stride 3D, past image 0's
        // cross projections (stride 2D), which must survive.
        selfBlock(layers[0], tokens: rows, rope: table, count0: count, count1: 0, projections: projections + first * 3 * dim,
                  context: context, hidden: hidden, scratch: scratch, trace: image == 0 ? trace : nil)
        layers[0].crossQKV.apply(rows, stride: stride, rows: count, into: projections + first * 2 * dim, outputStride: 2 * dim)
    }

    /// Keypoints normalised by the image size (centre, then half the longer side), their angles
    /// `Wr (x, y)`, and the rotary tables: per row `cos` then `sin`, each angle repeated for the
    /// two dimensions of its pair.
    private func writeRotaryTables(_ features: Features, into table: UnsafeMutablePointer<Float>,
                                   trace: ((String, Tensor) -> Void)?, image: Int) {
        let headDim = attention.headDim, half = headDim / 2
        let width = Float(features.imageWidth), height = Float(features.imageHeight)
        let shiftX = width / 2, shiftY = height / 2, scale = max(width, height) / 2
        var normalized = [Float](), encoding = [Float]()
        if trace != nil {
            normalized.reserveCapacity(2 * features.count)
            encoding = [Float](repeating: 0, count: 2 * features.count * headDim)
        }
        for r in 0..<features.count {
            let x = (features.keypoints[2 * r] - shiftX) / scale, y = (features.keypoints[2 * r + 1] - shiftY) / scale
            let row = table + r * 2 * headDim
            for j in 0..<half {
                let angle = positionalFrequencies[2 * j] * x + positionalFrequencies[2 * j + 1] * y
                let c = cosf(angle), s = sinf(angle)
                row[2 * j] = c; row[2 * j + 1] = c
                row[headDim + 2 * j] = s; row[headDim + 2 * j + 1] = s
            }
            if trace != nil {
                normalized += [x, y]
                for d in 0..<headDim {
                    encoding[r * headDim + d] = row[d]
                    encoding[(features.count + r) * headDim + d] = row[headDim + d]
                }
            }
        }
        trace?("keypoints\(image)_normalized", Tensor(shape: [features.count, 2], data: normalized))
        trace?("encoding\(image)", Tensor(shape: [2, features.count, headDim], data: encoding))
    }

    /// Self attention of each image with rotary q and k, then x += FFN([x, message]).
    private func selfBlock(_ layer: TransformerLayer, tokens: UnsafeMutablePointer<Float>, rope: UnsafeMutablePointer<Float>,
                           count0: Int, count1: Int, projections: UnsafeMutablePointer<Float>,
                           context: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>, trace: ((String, Tensor) -> Void)?,
                           profile: LayerProfile? = nil) {
        let dim = width, headDim = attention.headDim, rows = count0 + count1, stride = 2 * dim
        let projection = profile.map { _ in LayerProfile.mark() }
        layer.selfQKV.apply(tokens, stride: stride, rows: rows, into: projections, outputStride: 3 * dim)
        RowParallel.forEach(rows: rows, minRowsPerWorker: 256) { range in
            for r in range {
                let table = rope + r * 2 * headDim
                for block in 0..<2 {  // q, then k
                    let row = projections + r * 3 * dim + block * dim
                    for head in 0..<headCount { rotate(row + head * headDim, cos: table, sin: table + headDim, count: headDim) }
                }
            }
        }
        if let trace {
            var q = [Float](repeating: 0, count: headCount * count0 * headDim)
            for head in 0..<headCount {
                for r in 0..<count0 {
                    for d in 0..<headDim { q[(head * count0 + r) * headDim + d] = projections[r * 3 * dim + head * headDim + d] }
                }
            }
            trace("layer0.q0_rotated", Tensor(shape: [headCount, count0, headDim], data: q))
            for head in 0..<headCount {
                for r in 0..<count0 {
                    for d in 0..<headDim { q[(head * count0 + r) * headDim + d] = projections[r * 3 * dim + dim + head * headDim + d] }
                }
            }
            trace("layer0.k0_rotated", Tensor(shape: [headCount, count0, headDim], data: q))
        }
        if let profile, let projection { profile.record("self: q|k|v projection + rotary", since: projection, flops: 6 * Double(rows * dim * dim)) }
        let attended = profile.map { _ in LayerProfile.mark() }
        for image in 0..<2 {  // (no array literal here: nothing is allocated per layer)
            let first = image == 0 ? 0 : count0, count = image == 0 ? count0 : count1
            if count == 0 { continue }
            let rowsStart = projections + first * 3 * dim
            attention(query: rowsStart, queryStride: 3 * dim, queryCount: count,
                      key: rowsStart + dim, keyStride: 3 * dim, value: rowsStart + 2 * dim, valueStride: 3 * dim, keyCount: count,
                      output: context + first * dim, outputStride: dim, scratch: scratch)
        }
        if let profile, let attended {
            profile.record("self: attention", since: attended, flops: 4 * Double(count0 * count0 + count1 * count1) * Double(dim))
        }
        profile.measure("self: output projection + feed-forward", flops: 14 * Double(rows * dim * dim)) {
            layer.selfOutput.apply(context, stride: dim, rows: rows, into: tokens + dim, outputStride: stride)
            layer.selfFeedForward.apply(tokens, rows: rows, dim: dim, hidden: hidden)
        }
    }

    /// Cross attention both ways with one projection for queries and keys (the similarity of
    /// image 0 to 1 is the transpose of 1 to 0), then x += FFN([x, message]) for both images,
    /// both messages computed from the values before the update: one similarity per head serves
    /// both directions. With `projected`, the projections `[qk | v]` of every row are already in
    /// `projections`.
    private func crossBlock(_ layer: TransformerLayer, tokens: UnsafeMutablePointer<Float>, count0: Int, count1: Int,
                            projections: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
                            hidden: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, projected: Bool,
                            profile: LayerProfile? = nil) {
        let dim = width, rows = count0 + count1, stride = 2 * dim
        if !projected {
            profile.measure("cross: qk|v projection", flops: 4 * Double(rows * dim * dim)) {
                layer.crossQKV.apply(tokens, stride: stride, rows: rows, into: projections, outputStride: 2 * dim)
            }
        }
        let image0 = projections, image1 = projections + count0 * 2 * dim
        // Flops of the reference's evaluation: one similarity, two weighted sums.
        profile.measure("cross: attention", flops: 6 * Double(count0 * count1) * Double(dim)) {
            bidirectionalAttention(first: image0, firstStride: 2 * dim, firstCount: count0,
                                   firstValue: image0 + dim, firstValueStride: 2 * dim,
                                   second: image1, secondStride: 2 * dim, secondCount: count1,
                                   secondValue: image1 + dim, secondValueStride: 2 * dim,
                                   heads: headCount, headDim: attention.headDim, scale: attention.scale,
                                   firstOutput: context, firstOutputStride: dim,
                                   secondOutput: context + count0 * dim, secondOutputStride: dim,
                                   scratch: scratch)
        }
        profile.measure("cross: output projection + feed-forward", flops: 14 * Double(rows * dim * dim)) {
            layer.crossOutput.apply(context, stride: dim, rows: rows, into: tokens + dim, outputStride: stride)
            layer.crossFeedForward.apply(tokens, rows: rows, dim: dim, hidden: hidden)
        }
    }

    /// Flops of ``encodeImage(_:first:tokens:rope:projections:context:hidden:scratch:trace:image:)``
    /// for `n` keypoints: input projection, layer 0's self block, the cross projections.
    private func encodeFlops(_ n: Int) -> Double {
        let n = Double(n), d = Double(width)
        let input = inputProjection == nil ? 0 : 2 * n * Double(inputDim) * d
        return input + 6 * n * d * d + 4 * n * n * d + 14 * n * d * d + 4 * n * d * d
    }

    /// The log assignment of layer `layer` on the current keypoints, `[count0, count1]` in the
    /// workspace: log_softmax over rows + log_softmax over columns of the similarity, plus the
    /// log-sigmoid matchability of both keypoints. It overwrites the blocks' scratch (context,
    /// hidden, attention), which ``forward`` reserved for at least `count0 * count1` floats.
    private func assign(layer: Int, tokens: UnsafeMutablePointer<Float>, count0: Int, count1: Int,
                        workspace ws: LightGlueWorkspace) -> UnsafeMutablePointer<Float> {
        let dim = width, rows = count0 + count1, stride = 2 * dim
        let assignment = assignments[layer]
        let projected = ws.projections.base  // [rows, D], reserved for 3D per row
        precondition(ws.shared.capacity >= count0 * count1, "LightGlue: the log assignment needs the forward pass's reservation")
        let scores = ws.shared.base
        let perRow = ws.perRow.base + 2 * rows  // log-sigmoid z | log-sum-exp of rows and columns
        let sums = ws.sums.reserve(count0 + count1 + rowAndColumnLogSumExpScratchCount(columns: count1))
        assignment.finalProjection.apply(tokens, stride: stride, rows: rows, into: projected, outputStride: dim)
        // (p0 / D^(1/4)) . (p1 / D^(1/4)) as one scaled product.
        sgemm(transB: true, m: count0, n: count1, k: dim, alpha: 1 / Float(dim).squareRoot(),
              a: projected, lda: dim, b: projected + count0 * dim, ldb: dim, c: scores, ldc: count1)
        assignment.matchability.apply(tokens, stride: stride, rows: rows, into: perRow, outputStride: 1)
        for r in 0..<rows { perRow[r] = logSigmoid(perRow[r]) }
        // Row and column log-sum-exp of the similarity.
        rowAndColumnLogSumExp(scores, rows: count0, columns: count1, rowOutput: sums, columnOutput: sums + count0,
                              scratch: sums + count0 + count1)
        for i in 0..<count0 {
            dualLogSoftmaxRow(scores + i * count1, count: count1, rowTerm: sums[i], columnTerms: sums + count0,
                              rowLogSigmoid: perRow[i], columnLogSigmoids: perRow + count0)
        }
        return scores
    }

    // MARK: - Tracing

    private func traceImages(_ name: String, _ tokens: UnsafeMutablePointer<Float>, count0: Int, count1: Int,
                             _ trace: (String, Tensor) -> Void) {
        let stride = 2 * width
        trace(name + "0", rowsTensor(tokens, rows: count0, columns: width, stride: stride))
        trace(name + "1", rowsTensor(tokens + count0 * stride, rows: count1, columns: width, stride: stride))
    }

    private func traceAssignment(layer: Int, tokens: UnsafeMutablePointer<Float>, count0: Int, count1: Int,
                                 workspace ws: LightGlueWorkspace, trace: (String, Tensor) -> Void) {
        let rows = count0 + count1, stride = 2 * width
        let scores = assign(layer: layer, tokens: tokens, count0: count0, count1: count1, workspace: ws)
        trace("layer\(layer).log_assignment", rowsTensor(scores, rows: count0, columns: count1, stride: count1))
        var z = [Float](repeating: 0, count: rows)
        z.withUnsafeMutableBufferPointer { z in
            assignments[layer].matchability.apply(tokens, stride: stride, rows: rows, into: z.baseAddress!, outputStride: 1)
        }
        z = z.map(sigmoid)
        trace("layer\(layer).matchability0", Tensor(shape: [count0], data: Array(z[0..<count0])))
        trace("layer\(layer).matchability1", Tensor(shape: [count1], data: Array(z[count0...])))
    }

    private func rowsTensor(_ base: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int) -> Tensor {
        var data = [Float]()
        data.reserveCapacity(rows * columns)
        for r in 0..<rows { data.append(contentsOf: UnsafeBufferPointer(start: base + r * stride, count: columns)) }
        return Tensor(shape: [rows, columns], data: data)
    }
}

// MARK: - Layers

/// One transformer layer (`transformers.I`) with its load-time rewrites applied.
struct TransformerLayer: Sendable {
    /// self_attn.Wqkv regrouped: weight [3D, D], output [q | k | v], each head's channels contiguous.
    let selfQKV: Linear
    let selfOutput: Linear  // self_attn.out_proj: weight [D, D]
    let selfFeedForward: FeedForward  // self_attn.ffn
    /// cross_attn.to_qk and to_v stacked: weight [2D, D], output [qk | v].
    let crossQKV: Linear
    let crossOutput: Linear  // cross_attn.to_out: weight [D, D]
    let crossFeedForward: FeedForward  // cross_attn.ffn

    init(_ scope: WeightStore.Scope, dim: Int, heads: Int) throws {
        let headDim = dim / heads
        let packed = try Linear(linear: scope.scoped("self_attn.Wqkv"), inputs: dim, outputs: 3 * dim)
        var weight = [Float](repeating: 0, count: 3 * dim * dim), bias = [Float](repeating: 0, count: 3 * dim)
        // Reference row head*3h + 3d + t (t = q, k, v) becomes row t*D + head*h + d.
        for head in 0..<heads {
            for d in 0..<headDim {
                for t in 0..<3 {
                    let source = head * 3 * headDim + 3 * d + t, target = t * dim + head * headDim + d
                    weight.replaceSubrange((target * dim)..<((target + 1) * dim), with: packed.weight[(source * dim)..<((source + 1) * dim)])
                    bias[target] = packed.bias[source]
                }
            }
        }
        selfQKV = Linear(weight: weight, bias: bias, inputs: dim, outputs: 3 * dim)
        selfOutput = try Linear(linear: scope.scoped("self_attn.out_proj"), inputs: dim, outputs: dim)
        selfFeedForward = try FeedForward(scope.scoped("self_attn.ffn"), dim: dim)
        let qk = try Linear(linear: scope.scoped("cross_attn.to_qk"), inputs: dim, outputs: dim)
        let v = try Linear(linear: scope.scoped("cross_attn.to_v"), inputs: dim, outputs: dim)
        crossQKV = Linear(weight: qk.weight + v.weight, bias: qk.bias + v.bias, inputs: dim, outputs: 2 * dim)
        crossOutput = try Linear(linear: scope.scoped("cross_attn.to_out"), inputs: dim, outputs: dim)
        crossFeedForward = try FeedForward(scope.scoped("cross_attn.ffn"), dim: dim)
    }
}

/// `ffn`: Linear(2D, 2D), LayerNorm(2D), GELU, Linear(2D, D), added to x.
struct FeedForward: Sendable {
    let first: Linear  // ffn.0: weight [2D, 2D]
    let norm: LayerNorm  // ffn.1: [2D]
    let second: Linear  // ffn.3: weight [D, 2D]

    init(_ scope: WeightStore.Scope, dim: Int) throws {
        first = try Linear(linear: scope.scoped("0"), inputs: 2 * dim, outputs: 2 * dim)
        norm = try LayerNorm(scope.scoped("1"), channels: 2 * dim)
        second = try Linear(linear: scope.scoped("3"), inputs: 2 * dim, outputs: dim)
    }

    /// x += FFN([x, message]) on token rows `[x | message]` of width 2D.
    func apply(_ tokens: UnsafeMutablePointer<Float>, rows: Int, dim: Int, hidden: UnsafeMutablePointer<Float>) {
        first.apply(tokens, stride: 2 * dim, rows: rows, into: hidden, outputStride: 2 * dim)
        norm.apply(hidden, stride: 2 * dim, rows: rows, gelu: true)
        second.apply(hidden, stride: 2 * dim, rows: rows, into: tokens, outputStride: 2 * dim, accumulate: true)
    }
}

/// `log_assignment.I`: the final projection and the matchability logit.
struct MatchAssignment: Sendable {
    let finalProjection: Linear  // final_proj: weight [D, D]
    let matchability: Linear  // matchability: weight [1, D], bias [1]

    init(_ scope: WeightStore.Scope, dim: Int) throws {
        finalProjection = try Linear(linear: scope.scoped("final_proj"), inputs: dim, outputs: dim)
        matchability = try Linear(linear: scope.scoped("matchability"), inputs: dim, outputs: 1)
    }
}

// MARK: - Scalar helpers

/// Rotary encoding of one head vector: adjacent pairs (2j, 2j+1) rotated by angle j.
@inline(__always)
private func rotate(_ t: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, count: Int) {
    var j = 0
    while j < count {
        let a = t[j], b = t[j + 1]
        t[j] = a * cos[j] + (-b) * sin[j]
        t[j + 1] = b * cos[j + 1] + a * sin[j + 1]
        j += 2
    }
}

@inline(__always)
private func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// log(sigmoid(x)) without overflow: min(x, 0) - log1p(exp(-|x|)).
@inline(__always)
private func logSigmoid(_ x: Float) -> Float { min(x, 0) - log1pf(expf(-abs(x))) }


// MARK: - Prepared query

/// Image 0's part of the network before layer 0's cross attention (see ``LightGlue/prepare(_:)``).
struct LightGlueQueryState: Sendable {
    let owner: PreparedStateOwner
    let tokens: [Float]  // [n, D]: after layer 0's self block
    let rope: [Float]  // [n, 2h]: rotary cos | sin per keypoint
    let crossProjections: [Float]  // [n, 2D]: layer 0's cross qk | v
}

// MARK: - Workspace

/// The buffers of one forward pass, sized by the largest pair seen so far.
final class LightGlueWorkspace {
    let tokens = ScratchBuffer()  // [T, 2D]: x | message, T = count0 + count1 (compacted by pruning)
    let rope = ScratchBuffer()  // [T, 2h]: cos | sin per row
    let projections = ScratchBuffer()  // [T, 3D]: self q | k | v; cross qk | v; final projections
    let perRow = ScratchBuffer()  // [4T]: token confidence, matchability, log-sigmoid matchability
    /// The blocks' scratch, `[T, D]` attention output before the output projection, then `[T, 2D]`
    /// feed-forward hidden layer, then the attention's score blocks; after a layer, the same
    /// memory holds the `[count0, count1]` similarity and log assignment (the largest buffer at
    /// 2048 keypoints each: 16 MB, not held twice).
    let shared = ScratchBuffer()
    let sums = ScratchBuffer()  // [count0 + count1]: row and column log-sum-exp
}

extension LightGlue: FeatureMatcher {
    public var name: String { "lightglue" }
    /// The features' descriptor length (the input of the input projection).
    public var descriptorDim: Int { inputDim }
}
