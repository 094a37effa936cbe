// The engine's parallel loops and the per-thread serial mode the ranking lanes use.
import Foundation
import Testing
@testable import Tensors

@Suite struct ParallelTests {
    @Test func everyChunkRunsOnceWithAWorkerInRange() {
        let chunks = 37
        var hits = [Int](repeating: 0, count: chunks)
        let lock = NSLock()
        var workersSeen = Set<Int>()
        hits.withUnsafeMutableBufferPointer { hits in
            let base = hits.baseAddress!
            Parallel.forEachChunk(chunks) { chunk, worker in
                base[chunk] += 1  // each chunk is its own element
                lock.lock(); workersSeen.insert(worker); lock.unlock()
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
        #expect(workersSeen.allSatisfy { (0..<Parallel.workers).contains($0) })
    }

    @Test func seriallyKeepsLoopsOnTheCallingThreadAndRestores() {
        let outside = Parallel.concurrency
        #expect(outside == Parallel.workers)
        let caller = Thread.current
        var onOtherThreads = 0
        var workers = Set<Int>()
        let result: Int = Parallel.serially {
            #expect(Parallel.concurrency == 1)
            Parallel.forEachChunk(16) { _, worker in
                if Thread.current != caller { onOtherThreads += 1 }
                workers.insert(worker)
            }
            RowParallel.forEach(rows: 10_000, minRowsPerWorker: 1) { _ in if Thread.current != caller { onOtherThreads += 1 } }
            // Nesting keeps the mode; leaving the inner call does not end the outer one.
            Parallel.serially { #expect(Parallel.concurrency == 1) }
            #expect(Parallel.concurrency == 1)
            #expect(Parallel.balancedChunks(count: 1000, maxPerChunk: 100) == 10)
            return 7
        }
        #expect(result == 7 && onOtherThreads == 0 && workers == [0])
        #expect(Parallel.concurrency == outside)
        // Other threads are not affected by one thread's serial mode.
        final class Seen: @unchecked Sendable { var value = 0 }  // written before the signal, read after the wait
        let other = DispatchSemaphore(value: 0), seen = Seen()
        Parallel.serially {
            Thread { seen.value = Parallel.concurrency; other.signal() }.start()
            other.wait()
        }
        #expect(seen.value == Parallel.workers)
    }

    @Test func serialGEMMAgreesWithTheParallelSplit() {
        let m = 300, n = 70, k = 90
        var generator = SystemRandomNumberGenerator()
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
        func product() -> [Float] {
            var c = [Float](repeating: .nan, count: m * n)
            c.withUnsafeMutableBufferPointer { c in
                parallelSgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c.baseAddress!, ldc: n)
            }
            return c
        }
        let parallel = product(), serial = Parallel.serially { product() }
        let worst = zip(parallel, serial).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst <= 1e-4, "\(worst)")
    }
}
