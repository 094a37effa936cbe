// Terminal side of the ranking job: progress display and Ctrl-C / SIGTERM handling. This is the
// command-line tool's process-level code (it installs signal handlers and exits the process), kept
// out of the libraries; only the `superglue` executable and the test worker link it.
import Foundation
import SuperGlueRanking
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders ``RankingEvent``s on standard error: a redrawn progress bar on a terminal, a plain
/// line every `interval` seconds otherwise (batch logs), nothing but warnings when quiet.
public final class RankingProgressReporter: @unchecked Sendable {
    // @unchecked: mutable state is only touched under `lock`; events arrive from two threads.
    public enum Style: Sendable {
        case bar, lines, quiet
    }

    private let style: Style
    private let interval: Double
    private let lock = NSLock()
    private var startTime: DispatchTime?
    private var doneAtStart = 0
    private var lastPrint = DispatchTime(uptimeNanoseconds: 0)
    private var barVisible = false
    private var warnings = 0

    /// `.bar` when standard error is a terminal, else `.lines`; `.quiet` when asked.
    public static func automaticStyle(quiet: Bool) -> Style {
        quiet ? .quiet : (isatty(STDERR_FILENO) == 1 ? .bar : .lines)
    }

    public init(style: Style, interval: Double = 10) {
        self.style = style
        self.interval = interval
    }

    /// Renders one event; pass this method as the job's `events` handler.
    public func handle(_ event: RankingEvent) {
        lock.lock(); defer { lock.unlock() }
        switch event {
        case .started(let total, let alreadyDone):
            startTime = .now()
            doneAtStart = alreadyDone
            if style != .quiet {
                let resumed = alreadyDone > 0 ? ", \(alreadyDone) already done (resumed)" : ""
                emit("rank: \(total) images\(resumed)\n")
            }
        case .finished(_, let done, let total):
            let now = DispatchTime.now()
            let sinceLast = Double(now.uptimeNanoseconds &- lastPrint.uptimeNanoseconds) / 1e9
            switch style {
            case .quiet: break
            case .bar:
                if sinceLast >= 0.1 || done == total { lastPrint = now; emit("\r" + bar(done: done, total: total, now: now)); barVisible = true }
                if done == total { emit("\n"); barVisible = false }
            case .lines:
                if sinceLast >= interval || done == total { lastPrint = now; emit("rank: " + status(done: done, total: total, now: now) + "\n") }
            }
        case .warning(let message):
            warnings += 1
            // Past a handful, warnings (e.g. one per corrupt cache entry) would drown the log.
            guard style != .quiet, warnings <= 20 else { return }
            if barVisible { emit("\n"); barVisible = false }
            emit("warning: \(message)\(warnings == 20 ? " (further warnings suppressed)" : "")\n")
        }
    }

    /// Ends a progress bar line (e.g. before an error message).
    public func endLine() {
        lock.lock(); defer { lock.unlock() }
        if barVisible { emit("\n"); barVisible = false }
    }

    private func status(done: Int, total: Int, now: DispatchTime) -> String {
        let elapsed = startTime.map { Double(now.uptimeNanoseconds - $0.uptimeNanoseconds) / 1e9 } ?? 0
        let rate = elapsed > 0 ? Double(done - doneAtStart) / elapsed : 0
        let eta = rate > 0 ? Self.duration(Double(total - done) / rate) : "?"
        let percent = total > 0 ? 100 * Double(done) / Double(total) : 100
        return "\(done)/\(total) (\(String(format: "%.1f", percent))%), \(String(format: "%.2f", rate)) img/s, ETA \(eta)"
    }

    private func bar(done: Int, total: Int, now: DispatchTime) -> String {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + status(done: done, total: total, now: now) + "   "
    }

    /// `1h02m`, `3m05s`, `12s`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }

    private func emit(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Turns the first SIGINT or SIGTERM into a stop request (the job journals the image in hand and
/// returns); a second one exits at once with status 130 (the journal is consistent at any moment).
public final class RankingInterruptHandler: @unchecked Sendable {
    // @unchecked: the sources are created once in init and only cancelled in deinit.
    private var sources: [any DispatchSourceSignal] = []
    /// The flag the handlers set; pass it to ``RankingJob/run(engine:configuration:stop:events:)``.
    public let stop: RankingStopFlag

    /// Installs the handlers; they stay active while this object lives.
    public init(stop: RankingStopFlag, quiet: Bool) {
        self.stop = stop
        let received = LockedBox(0)
        for signalNumber in [SIGINT, SIGTERM] {
            // Dispatch can only observe signals whose default action is disabled.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let count = received.update { value -> Int in value += 1; return value }
                if count == 1 {
                    stop.requestStop()
                    if !quiet {
                        FileHandle.standardError.write(Data("\nrank: stopping after the current image (journal kept; rerun with --resume). Interrupt again to quit now.\n".utf8))
                    }
                } else {
                    _exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
