// The memory every network's forward pass runs in: growable float buffers that keep their
// allocation between calls, and a pool that hands each concurrent caller its own set of them, so
// steady-state calls allocate only their results (llama2.c's RunState, made reentrant).
import Foundation

/// A float buffer that grows on demand and never shrinks. Contents are unspecified after a
/// ``reserve(_:)`` that grows it. Not thread-safe: it belongs to one workspace, used by one call.
public final class ScratchBuffer {
    private var storage = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    public private(set) var capacity = 1

    public init() {}

    deinit { storage.deallocate() }

    /// At least `count` floats.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            storage.deallocate()
            storage = .allocate(capacity: count)
            capacity = count
        }
        return storage
    }

    /// The buffer as last reserved.
    public var base: UnsafeMutablePointer<Float> { storage }
}

/// Idle workspaces of one network. A call takes one (a new one when all are busy) and gives it
/// back, so concurrent calls never share buffers and sequential calls reuse them.
public final class WorkspacePool<Workspace>: @unchecked Sendable {
    // `idle` is only touched under `lock`; a taken workspace belongs to one call until given back.
    private let lock = NSLock()
    private var idle: [Workspace] = []
    private let make: @Sendable () -> Workspace

    public init(_ make: @escaping @Sendable () -> Workspace) { self.make = make }

    /// Runs `body` with a workspace of its own.
    public func withWorkspace<Result>(_ body: (Workspace) throws -> Result) rethrows -> Result {
        let workspace = take()
        defer { give(workspace) }
        return try body(workspace)
    }

    public func take() -> Workspace {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast() ?? make()
    }

    public func give(_ workspace: Workspace) {
        lock.lock()
        idle.append(workspace)
        lock.unlock()
    }
}
