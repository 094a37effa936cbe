// Two photographs of a generated scene with known cameras, for `pairs --eval`: a room corner
// (back wall, left wall, floor) covered with seeded "Mondrian" rectangles and soft noise, ray
// traced from two pinhole cameras. The ground truth is exact, so a pose evaluation of the pair
// can be checked.
import Foundation
@testable import SuperGlueKit

struct TwoViewScene {
    var width: Int
    var height: Int
    /// fx = fy, cx = (width - 1) / 2, cy = (height - 1) / 2.
    var focal: Double
    /// Camera 1 = rotation · camera 0 + translation (T_0to1).
    var rotation: [[Double]]
    var translation: [Double]

    /// Camera 1 panned by 8 degrees about the y axis, rolled by 3, and moved 0.7 units sideways
    /// (the walls are 3 to 7 units away).
    static func standard(width: Int = 640, height: Int = 480) -> TwoViewScene {
        let yaw = 8.0 * .pi / 180, roll = 3.0 * .pi / 180
        let ry = [[cos(yaw), 0, sin(yaw)], [0, 1, 0], [-sin(yaw), 0, cos(yaw)]]
        let rz = [[cos(roll), -sin(roll), 0], [sin(roll), cos(roll), 0], [0, 0, 1]]
        return TwoViewScene(width: width, height: height, focal: 0.8 * Double(width),
                            rotation: multiply(rz, ry), translation: [-0.7, 0.05, 0.15])
    }

    var intrinsics: [Double] {
        [focal, 0, Double(width - 1) / 2, 0, focal, Double(height - 1) / 2, 0, 0, 1]
    }

    /// T_0to1 as 16 row-major values.
    var transform: [Double] {
        (0..<3).flatMap { r in rotation[r] + [translation[r]] } + [0, 0, 0, 1]
    }

    /// A pairs-file line `name0 name1 rot0 rot1 K0 K1 T_0to1`.
    func pairsLine(_ name0: String, _ name1: String, rotation0: Int = 0, rotation1: Int = 0) -> String {
        ([name0, name1, "\(rotation0)", "\(rotation1)"] + (intrinsics + intrinsics + transform).map { "\($0)" })
            .joined(separator: " ")
    }

    /// The grey image camera `index` (0 or 1) sees, as RGB bytes.
    func render(camera index: Int) -> [UInt8] {
        // Camera 1's centre and axes in camera 0's (world) frame: X1 = R X0 + t.
        let rt = Self.transpose(rotation)
        let centre = index == 0 ? [0.0, 0, 0] : Self.apply(rt, translation).map { -$0 }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let cx = Double(width - 1) / 2, cy = Double(height - 1) / 2
        for v in 0..<height {
            for u in 0..<width {
                let ray = [(Double(u) - cx) / focal, (Double(v) - cy) / focal, 1]
                let direction = index == 0 ? ray : Self.apply(rt, ray)
                let value = UInt8(max(0, min(255, (255 * Self.shade(origin: centre, direction: direction)).rounded())))
                let k = 3 * (v * width + u)
                pixels[k] = value; pixels[k + 1] = value; pixels[k + 2] = value
            }
        }
        return pixels
    }

    func writePNG(camera index: Int, to url: URL) throws {
        try encodePNG(rgb: render(camera: index), width: width, height: height).write(to: url)
    }

    // MARK: - Scene

    /// Walls as (axis, offset, the two in-plane axes, bounds of those coordinates).
    private static let walls: [(axis: Int, offset: Double, u: Int, v: Int, bounds: (Double, Double, Double, Double))] = [
        (2, 7, 0, 1, (-5, 5, -4, 2.5)),    // back wall z = 7
        (0, -3, 2, 1, (1, 7, -4, 2.5)),    // left wall x = -3
        (1, 2.5, 0, 2, (-3, 5, 1, 7)),     // floor y = 2.5 (y points down)
    ]

    /// Seeded rectangles per wall: corners for the detectors, in wall coordinates.
    private static let rectangles: [[(x0: Double, x1: Double, y0: Double, y1: Double, gray: Double)]] = {
        var rng = SplitMix64(seed: 2024)
        return walls.map { wall in
            (0..<220).map { _ in
                let (a0, a1, b0, b1) = wall.bounds
                let w = 0.1 + 0.6 * rng.unit(), h = 0.1 + 0.6 * rng.unit()
                let x = a0 + (a1 - a0) * rng.unit(), y = b0 + (b1 - b0) * rng.unit()
                return (x, x + w, y, y + h, rng.unit())
            }
        }
    }()

    /// Brightness in [0, 1] where the ray first meets a wall (0.5 for none).
    static func shade(origin: [Double], direction: [Double]) -> Double {
        var best: (distance: Double, wall: Int, a: Double, b: Double)?
        for (index, wall) in walls.enumerated() where abs(direction[wall.axis]) > 1e-12 {
            let distance = (wall.offset - origin[wall.axis]) / direction[wall.axis]
            guard distance > 0, distance < (best?.distance ?? .infinity) else { continue }
            let a = origin[wall.u] + distance * direction[wall.u], b = origin[wall.v] + distance * direction[wall.v]
            let (a0, a1, b0, b1) = wall.bounds
            guard a >= a0, a <= a1, b >= b0, b <= b1 else { continue }
            best = (distance, index, a, b)
        }
        guard let hit = best else { return 0.5 }
        var gray = 0.35 + 0.1 * sin(3 * hit.a) * cos(2 * hit.b)
        for r in rectangles[hit.wall] where hit.a >= r.x0 && hit.a < r.x1 && hit.b >= r.y0 && hit.b < r.y1 {
            gray = 0.1 + 0.8 * r.gray
        }
        // Walls lit differently, so their edges are visible.
        return gray * [1, 0.8, 0.65][hit.wall] + 0.05
    }

    private static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        (0..<3).map { r in (0..<3).map { c in (0..<3).reduce(0) { $0 + a[r][$1] * b[$1][c] } } }
    }

    private static func transpose(_ a: [[Double]]) -> [[Double]] { (0..<3).map { r in (0..<3).map { a[$0][r] } } }

    private static func apply(_ a: [[Double]], _ v: [Double]) -> [Double] {
        (0..<3).map { r in a[r][0] * v[0] + a[r][1] * v[1] + a[r][2] * v[2] }
    }
}
