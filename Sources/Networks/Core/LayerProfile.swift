// Per-layer timing of a forward pass, for benchmarks: each stage of a network is timed (wall
// clock and the process's CPU time, which stays meaningful when other processes share the cores)
// and carries the floating-point operations its reference evaluation performs, so a report can
// give GFLOP/s per layer.
import Foundation

/// Timings of the named stages of one or more forward passes, in the order first seen.
///
/// A network records into it only when one is passed to its profiled entry point; stages that
/// run several times per pass (or over several passes) accumulate one sample per call.
public final class LayerProfile: @unchecked Sendable {
    // @unchecked: one profile belongs to one forward pass at a time; stages are recorded from the
    // thread that runs the pass, never from the workers of its parallel loops.

    /// One stage: its direct-evaluation flops per call and the per-call samples.
    public struct Stage: Sendable {
        public let name: String
        /// Flops of one call as the reference evaluates it (2 x multiply-adds of a direct
        /// convolution or GEMM; 0 for stages that are not arithmetic-bound).
        public var flops: Double
        /// Wall-clock seconds of each call.
        public var wallSeconds: [Double] = []
        /// CPU seconds of the whole process during each call (all threads).
        public var cpuSeconds: [Double] = []
        /// Flops of every call together (differs from `flops * calls` when calls differ in
        /// size, as LightGlue's layers do after pruning).
        public var totalFlops: Double = 0

        /// Effective GFLOP/s of the median call (nil without flops).
        public var gflops: Double? {
            guard flops > 0, let wall = Self.median(wallSeconds), wall > 0 else { return nil }
            return flops / wall / 1e9
        }

        public static func median(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            let s = values.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
    }

    public private(set) var stages: [Stage] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Runs `body`, recording its times under `name`.
    @discardableResult
    public func measure<Result>(_ name: String, flops: Double = 0, _ body: () throws -> Result) rethrows -> Result {
        let start = Self.mark()
        let result = try body()
        record(name, since: start, flops: flops)
        return result
    }

    /// A point in time, wall clock and the process's CPU time, for ``record(_:since:flops:)``.
    public struct Mark: Sendable {
        let wallNanoseconds: UInt64
        let cpuSeconds: Double
    }

    public static func mark() -> Mark {
        Mark(wallNanoseconds: DispatchTime.now().uptimeNanoseconds, cpuSeconds: processCPUSeconds())
    }

    /// Records one call of `name` that started at `start` and ends now (for stages that are not
    /// one closure, such as a loop body left by `break`).
    public func record(_ name: String, since start: Mark, flops: Double = 0) {
        let cpu = Self.processCPUSeconds() - start.cpuSeconds
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start.wallNanoseconds) / 1e9
        let i: Int
        if let found = index[name] {
            i = found
        } else {
            i = stages.count
            index[name] = i
            stages.append(Stage(name: name, flops: flops))
        }
        stages[i].flops = flops
        stages[i].totalFlops += flops
        stages[i].wallSeconds.append(wall)
        stages[i].cpuSeconds.append(cpu)
    }

    /// CPU time consumed so far by every thread of the process.
    public static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Flops of a stride-1 "same" k x k convolution evaluated directly: 2 x pixels x Cin x Cout x k^2.
    public static func convolutionFlops(pixels: Int, inChannels: Int, outChannels: Int, kernel: Int) -> Double {
        2 * Double(pixels) * Double(inChannels * outChannels * kernel * kernel)
    }
}

extension Optional where Wrapped == LayerProfile {
    /// ``LayerProfile/measure(_:flops:_:)`` when a profile is attached, else just `body`.
    @inline(__always)
    func measure<Result>(_ name: @autoclosure () -> String, flops: @autoclosure () -> Double = 0,
                         _ body: () throws -> Result) rethrows -> Result {
        guard let profile = self else { return try body() }
        return try profile.measure(name(), flops: flops(), body)
    }
}

/// A detector that can report the time of each of its stages.
public protocol ProfilableDetector: KeypointDetector {
    /// ``KeypointDetector/detect(_:)``, recording each stage in `profile`.
    func detect(_ input: DetectorInput, profile: LayerProfile) throws -> Features
}
