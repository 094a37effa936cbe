// A deterministic stand-in for SuperPoint + SuperGlue, for testing the ranking job's mechanics
// (sorting, journal, cache, shards, faults) without networks: with random weights the real
// engine's scores carry no meaning, and it is far too slow for kill -9 loops.
//
// "Images" are small text files:
//     FAKEIMG <width> <height> [<turns>]
//     <landmark id> <x> <y>        (one line per keypoint)
// A keypoint's descriptor encodes its landmark id and the image's orientation (`turns`, quarter
// turns counter-clockwise of the scene, default 0); matching pairs keypoints with equal ids and
// orientations, with a confidence that depends only on the id. A query "pasted" into an image
// under a homography therefore yields matches whose positions agree with one homography, as in
// the real job, and a query turned by the engine matches an image only in the image's
// orientation, as a detector without rotation invariance does.
import Foundation
import SuperGlueKit
import SuperGlueRanking

struct FakeImageError: Error, CustomStringConvertible {
    var description: String
}

final class FakeRankingEngine: RankingEngine, @unchecked Sendable {
    // @unchecked: the call counter is guarded by `lock`; everything else is immutable.
    let delay: Double
    let identity: String
    private let lock = NSLock()
    private var featureCallCount = 0
    private var featureCallsInFlight = 0, mostFeatureCallsInFlight = 0

    init(delay: Double = 0, identity: String = "fake-engine-v1") {
        self.delay = delay
        self.identity = identity
    }

    /// How many times ``features(forImageAt:)`` ran (cache hits skip it).
    var featureCalls: Int { lock.lock(); defer { lock.unlock() }; return featureCallCount }
    /// The most ``features(forImageAt:)`` calls that ran at the same time.
    var mostConcurrentFeatureCalls: Int { lock.lock(); defer { lock.unlock() }; return mostFeatureCallsInFlight }

    var featureIdentity: String { identity }
    var matchIdentity: String { identity + "/match" }

    func features(forImageAt url: URL) throws -> Features {
        try features(forImageAt: url, quarterTurns: 0)
    }

    /// The image turned by `quarterTurns` counter-clockwise: keypoints moved as np.rot90 moves
    /// pixels, the orientation in the descriptors advanced.
    func features(forImageAt url: URL, quarterTurns: Int) throws -> Features {
        lock.lock()
        featureCallCount += 1
        featureCallsInFlight += 1
        mostFeatureCallsInFlight = max(mostFeatureCallsInFlight, featureCallsInFlight)
        lock.unlock()
        defer { lock.lock(); featureCallsInFlight -= 1; lock.unlock() }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        let data = try Data(contentsOf: url)
        guard data.starts(with: Array("FAKEIMG ".utf8)) else { throw FakeImageError(description: "corrupt: not a FAKEIMG file") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let header = lines[0].split(separator: " ")
        guard header.count == 3 || header.count == 4, var width = Int(header[1]), var height = Int(header[2]) else {
            throw FakeImageError(description: "corrupt: bad FAKEIMG header")
        }
        guard width >= 8, height >= 8 else { throw FakeImageError(description: "too small: \(width)x\(height)") }
        let turns = ((quarterTurns % 4) + 4) % 4
        let orientation = (turns + (header.count == 4 ? Int(header[3]) ?? 0 : 0)) % 4
        var keypoints: [Float] = [], descriptors: [Float] = [], scores: [Float] = []
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let id = Int(parts[0]), let x = Float(parts[1]), let y = Float(parts[2]) else {
                throw FakeImageError(description: "corrupt: bad keypoint line")
            }
            keypoints += Self.turned(x: x, y: y, width: width, height: height, quarterTurns: turns)
            descriptors += [Float(id), Float(1 + orientation)]
            scores.append(1)
        }
        if turns % 2 == 1 { swap(&width, &height) }
        return Features(keypoints: keypoints, scores: scores, descriptors: descriptors, descriptorDim: 2, imageWidth: width, imageHeight: height)
    }

    /// Where np.rot90(image, quarterTurns) takes pixel (x, y) of a `width` x `height` image.
    static func turned(x: Float, y: Float, width: Int, height: Int, quarterTurns: Int) -> [Float] {
        let w = Float(width - 1), h = Float(height - 1)
        switch quarterTurns {
        case 1: return [y, w - x]
        case 2: return [w - x, h - y]
        case 3: return [h - y, x]
        default: return [x, y]
        }
    }

    func match(_ query: Features, _ image: Features) throws -> RankingMatches {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        var byID: [[Float]: Int] = [:]
        for j in 0..<image.count {
            let key = Array(image.descriptors[(2 * j)..<(2 * j + 2)])
            if byID[key] == nil { byID[key] = j }
        }
        var matches = [Int](repeating: -1, count: query.count), confidence = [Float](repeating: 0, count: query.count)
        for i in 0..<query.count {
            let id = query.descriptors[2 * i]
            if let j = byID[Array(query.descriptors[(2 * i)..<(2 * i + 2)])] {
                matches[i] = j
                confidence[i] = Self.confidence(id: Int(id))
            }
        }
        return RankingMatches(matches0: matches, confidence0: confidence)
    }

    /// The confidence of a match of landmark `id`: a fixed pseudo-random value in [0.3, 1).
    static func confidence(id: Int) -> Float {
        let golden = Double(id) * 0.618_033_988_75
        return Float(0.3 + 0.7 * (golden - golden.rounded(.down)))
    }
}

/// Writes fake image folders: a query and database images, some containing the query under a
/// perspective warp, plus deliberately broken files.
enum FakeScene {
    struct Landmark { var id: Int; var x: Double; var y: Double }

    /// A small deterministic generator (xorshift64*), so scenes are reproducible across runs.
    struct Random {
        var state: UInt64
        init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * Double(next() >> 11) / Double(1 << 53) }
        mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    }

    static func text(width: Int, height: Int, _ landmarks: [Landmark]) -> String {
        "FAKEIMG \(width) \(height)\n" + landmarks.map { "\($0.id) \(Float($0.x)) \(Float($0.y))\n" }.joined()
    }

    /// The query: 40 landmarks (ids 1...40) in a 320x240 frame.
    static func query(seed: UInt64) -> [Landmark] {
        var rng = Random(seed: seed)
        return (1...40).map { Landmark(id: $0, x: rng.uniform(10, 310), y: rng.uniform(10, 230)) }
    }

    /// A database image: `pasted` of the query's landmarks warped by a random homography (plus
    /// 1-pixel noise), and `clutter` landmarks whose ids collide with the query's by chance at
    /// unrelated positions.
    static func image(query: [Landmark], pasted: Int, clutter: Int, seed: UInt64) -> [Landmark] {
        var rng = Random(seed: seed)
        let h: [Double] = [rng.uniform(0.7, 1.2), rng.uniform(-0.2, 0.2), rng.uniform(0, 200),
                           rng.uniform(-0.2, 0.2), rng.uniform(0.7, 1.2), rng.uniform(0, 150),
                           rng.uniform(-0.0005, 0.0005), rng.uniform(-0.0005, 0.0005), 1]
        var out: [Landmark] = []
        for l in query.prefix(pasted) {
            let w = h[6] * l.x + h[7] * l.y + h[8]
            out.append(Landmark(id: l.id, x: (h[0] * l.x + h[1] * l.y + h[2]) / w + rng.uniform(-0.5, 0.5),
                                y: (h[3] * l.x + h[4] * l.y + h[5]) / w + rng.uniform(-0.5, 0.5)))
        }
        for _ in 0..<clutter {
            out.append(Landmark(id: rng.int(1..<400), x: rng.uniform(0, 640), y: rng.uniform(0, 480)))
        }
        return out
    }

    /// Writes `query.jpg` into `root` and `count` images into `root/images` (some in a
    /// subfolder, a third containing the query), plus broken files when `broken` is set.
    /// Returns the query URL and the images folder.
    @discardableResult
    static func write(to root: URL, count: Int, broken: Bool = true, seed: UInt64 = 7) throws -> (query: URL, images: URL) {
        let fm = FileManager.default
        let images = root.appendingPathComponent("images", isDirectory: true)
        try fm.createDirectory(at: images.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let q = query(seed: seed)
        let queryURL = root.appendingPathComponent("query.jpg")
        try text(width: 320, height: 240, q).write(to: queryURL, atomically: true, encoding: .utf8)
        for i in 0..<count {
            let pasted = i % 3 == 0 ? 12 + (i * 7) % 28 : 0
            let landmarks = image(query: q, pasted: pasted, clutter: 20 + i % 11, seed: seed &* 1000 &+ UInt64(i))
            let name = (i % 4 == 1 ? "sub/" : "") + String(format: "img%03d.jpg", i)
            try text(width: 640, height: 480, landmarks).write(to: images.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        if broken {
            try "this is not an image".write(to: images.appendingPathComponent("notes.jpg"), atomically: true, encoding: .utf8)
            try Data().write(to: images.appendingPathComponent("empty.png"))
            try "FAKEIMG 4 4\n".write(to: images.appendingPathComponent("tiny.png"), atomically: true, encoding: .utf8)
            try "ignored, not an image extension".write(to: images.appendingPathComponent("readme.txt"), atomically: true, encoding: .utf8)
        }
        return (queryURL, images)
    }
}
