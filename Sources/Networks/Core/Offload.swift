// Async entry points for CPU-bound calls. The networks block their thread while they compute
// (and fan out over DispatchQueue.concurrentPerform inside); run on Swift's cooperative pool,
// which has one thread per core, that would starve every other task of the process. So an async
// call runs the synchronous one on a thread of its own and suspends until it is done.
import Foundation

/// Runs `body` on a new thread outside Swift's cooperative pool and returns its result.
///
/// A thread per call costs tens of microseconds, nothing next to a forward pass. Cancellation is
/// not forwarded: a forward pass runs to completion.
public func runOffCooperativePool<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        // The networks recurse little, but deep-stack code (libjpeg, libpng) runs here too.
        thread.stackSize = 8 << 20
        thread.start()
    }
}

extension KeypointDetector {
    /// ``detect(_:)`` without blocking the cooperative thread pool.
    public func detect(_ input: DetectorInput) async throws -> Features {
        try await runOffCooperativePool { try self.detect(input) }
    }
}

extension FeatureMatcher {
    /// ``match(_:_:)`` without blocking the cooperative thread pool.
    public func match(_ features0: Features, _ features1: Features) async throws -> Matches {
        try await runOffCooperativePool { try self.match(features0, features1) }
    }
}
