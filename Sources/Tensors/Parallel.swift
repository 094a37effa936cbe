// How the engine spreads work over the cores.
//
// OpenBLAS is kept single-threaded and every parallel loop is ours. Measured on the 2-core
// machines this project targets: OpenBLAS's own threads spin-wait between the many small GEMMs
// of a Winograd batch or an attention block, and two engine calls running at once (the ranking
// job runs SuperPoint and SuperGlue side by side) each asked OpenBLAS for every core. Splitting
// work ourselves lets the transforms, softmax and bias passes run in parallel with the GEMMs.
// Results agree across worker counts to float rounding (the split changes GEMM shapes, and
// OpenBLAS's edge kernels round a few elements differently).
// Callers with independent work items can do better than splitting each operation: the ranking
// job's lanes and a pair's two extractions run one item per core with `Parallel.serially`, which
// keeps every loop started on that thread there (faster than two items each spread over both
// cores; Benchmarks/README.md has the numbers).
import COpenBLAS
import Dispatch
import Foundation

/// The engine's worker count and its parallel loops.
public enum Parallel {
    /// Number of workers: `SUPERGLUE_NUM_THREADS` when set to a positive integer, else the
    /// active processor count.
    public static let workers: Int = {
        if let text = ProcessInfo.processInfo.environment["SUPERGLUE_NUM_THREADS"], let value = Int(text), value > 0 {
            return min(value, 256)
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Workers the parallel loops started on the calling thread use: ``workers``, or 1 inside
    /// ``serially(_:)``. Scratch is still sized by ``workers``; a serial caller uses worker 0's part.
    public static var concurrency: Int { isSerial ? 1 : workers }

    /// Runs `body` with every parallel loop it starts on this thread running on this thread alone.
    ///
    /// For callers that spread independent work items over the cores themselves (the ranking job
    /// runs one image per core): no fork-join per layer, whole-size GEMMs, and each core's cache
    /// holds one image's working set.
    public static func serially<Result>(_ body: () throws -> Result) rethrows -> Result {
        let previous = pthread_getspecific(serialKey)
        pthread_setspecific(serialKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(serialKey, previous) }
        return try body()
    }

    private static let serialKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    @inline(__always)
    static var isSerial: Bool { pthread_getspecific(serialKey) != nil }

    /// Puts OpenBLAS in single-threaded mode, once per process, before the first GEMM.
    ///
    /// `SUPERGLUE_BLAS_THREADS` overrides the count (for experiments). This is process-wide
    /// OpenBLAS state: a host application that needs threaded OpenBLAS for its own work can call
    /// `openblas_set_num_threads` again; the engine stays correct either way, only slower.
    static let blasConfigured: Bool = {
        var threads: Int32 = 1
        if let text = ProcessInfo.processInfo.environment["SUPERGLUE_BLAS_THREADS"], let value = Int32(text), value > 0 {
            threads = value
        }
        openblas_set_num_threads(threads)
        return true
    }()

    /// Calls `body(chunk, worker)` for every chunk in `0..<chunks`, chunk `c` on worker
    /// `c % workers`, concurrently across workers; returns when all are done.
    ///
    /// A worker index is in `0..<min(workers, chunks)` and is never used by two calls at the same
    /// time, so it can select a per-worker scratch buffer.
    ///
    /// `body` is deliberately not `@Sendable`: the kernels hand it raw pointers. The contract that
    /// makes this safe is the caller's: a chunk only writes memory that belongs to it (or to its
    /// worker's scratch) and only reads memory nobody writes during the call.
    public static func forEachChunk(_ chunks: Int, _ body: (_ chunk: Int, _ worker: Int) -> Void) {
        let active = min(concurrency, chunks)
        if active <= 1 {
            for chunk in 0..<chunks { body(chunk, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: active) { worker in
                var chunk = worker
                while chunk < chunks {
                    shared.value(chunk, worker)
                    chunk += active
                }
            }
        }
    }

    /// Splits `0..<count` into `chunks` near-equal consecutive ranges and returns range `chunk`.
    @inline(__always)
    public static func range(_ chunk: Int, of chunks: Int, count: Int) -> Range<Int> {
        (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
    }

    /// Number of chunks for `count` items processed at most `maxPerChunk` at a time: a multiple
    /// of the worker count (so no worker idles at the end) unless there are fewer items than that.
    public static func balancedChunks(count: Int, maxPerChunk: Int) -> Int {
        guard count > 0 else { return 0 }
        let needed = (count + maxPerChunk - 1) / max(1, maxPerChunk)
        let rounded = (needed + concurrency - 1) / concurrency * concurrency
        return min(rounded, count)
    }
}

/// Splits row ranges over the workers for the element-wise kernels.
public enum RowParallel {
    /// Worker count (``Parallel/workers``).
    public static var workers: Int { Parallel.workers }

    /// Calls `body` on disjoint consecutive sub-ranges covering `0..<rows`, concurrently when
    /// there are at least `minRowsPerWorker` rows per worker, and returns when all are done.
    /// Same contract as ``Parallel/forEachChunk(_:_:)``.
    public static func forEach(rows: Int, minRowsPerWorker: Int = 64, _ body: (Range<Int>) -> Void) {
        let chunks = min(Parallel.concurrency, rows / max(1, minRowsPerWorker))
        if chunks <= 1 {
            if rows > 0 { body(0..<rows) }
            return
        }
        Parallel.forEachChunk(chunks) { chunk, _ in body(Parallel.range(chunk, of: chunks, count: rows)) }
    }
}

/// Carries a value into a `@Sendable` closure under a data-race contract checked by hand.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
