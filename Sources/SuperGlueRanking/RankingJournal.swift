// The ranking job's journal: one line per finished image, appended and fsync'ed before the job
// moves on, so that after a crash or kill -9 at any moment a resumed run redoes only the images
// whose line is not complete on disk. Format documented in Tools/azureml/FORMATS.md.
import Foundation
import SuperGlueKit
import MatchingIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only, crash-safe log of finished images.
///
/// Layout (text, UTF-8):
/// ```
/// #superglue-rank-journal v1 identity=<64 hex digits>
/// image,confidence,matches,inliers,inlier_ratio,keypoints,status,seconds,crc32
/// photos/a.jpg,12.5,30,21,0.7,1024,ok,0.41,8c1f2a3b
/// ```
/// Jobs with query rotations have a `query_rotation` column (degrees) before `crc32`.
/// `crc32` is the CRC-32 (zip polynomial) of the line's bytes before `,crc32`, as 8 hex digits.
/// Reading stops trusting a line that lacks its newline or whose CRC does not match: a torn last
/// line (process killed mid-write, disk full) is cut off before new lines are appended.
final class RankingJournal {
    static let magic = "#superglue-rank-journal v1"
    static let columns = ["image", "confidence", "matches", "inliers", "inlier_ratio", "keypoints", "status", "seconds", "crc32"]
    /// The columns of jobs with query rotations.
    static let rotationColumns = Array(columns.dropLast()) + ["query_rotation", "crc32"]

    let url: URL
    private var descriptor: Int32
    /// Whether records carry the query rotation.
    let recordsRotation: Bool

    /// What ``open(at:identity:mode:)`` found in an existing journal.
    struct Recovered {
        /// The first complete, checksummed record of each image.
        var records: [String: RankingRecord] = [:]
        /// Lines dropped because they were torn or failed their checksum.
        var discardedLines = 0
        /// Records of an image already seen earlier in the journal (ignored).
        var duplicateRecords = 0
    }

    enum OpenMode: Sendable {
        /// Fail if a journal with records exists.
        case fresh
        /// Continue an existing journal (a missing or empty one is created).
        case resume
        /// Discard an existing journal.
        case overwrite
    }

    private init(url: URL, descriptor: Int32, recordsRotation: Bool) {
        self.url = url
        self.descriptor = descriptor
        self.recordsRotation = recordsRotation
    }

    deinit { if descriptor >= 0 { posixClose(descriptor) } }

    /// Opens (creating or recovering) the journal at `url` for a job with the given identity;
    /// `queryRotation`: the job has query rotations, its records carry the winning one.
    static func open(at url: URL, identity: String, mode: OpenMode, queryRotation: Bool = false) throws -> (RankingJournal, Recovered) {
        let fd = posixOpen(url.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RankingJobError.output("cannot open the journal \(url.path) for writing: \(errnoDescription())") }
        let journal = RankingJournal(url: url, descriptor: fd, recordsRotation: queryRotation)
        do {
            return (journal, try journal.prepare(identity: identity, mode: mode))
        } catch {
            // Release the lock now rather than whenever the object happens to be freed.
            journal.close()
            throw error
        }
    }

    /// Locks, reads and recovers the journal, then cuts it to its valid prefix.
    private func prepare(identity: String, mode: OpenMode) throws -> Recovered {
        let path = url.path
        let fd = descriptor
        let magic = Self.magic, columns = recordsRotation ? Self.rotationColumns : Self.columns
        var recovered = Recovered()
        var existing: [UInt8] = []
        // Two jobs writing one journal would interleave and truncate each other's lines. The lock
        // is taken before reading; filesystems without flock support (some network mounts) are
        // used unlocked. A lock that frees itself within a second is not another job: a child
        // process forked by this one (Process, posix_spawn) shares the descriptor, and so the lock,
        // until it execs, which closes it (O_CLOEXEC); under load that window is milliseconds long.
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0, errno == EWOULDBLOCK {
            attempts += 1
            guard attempts < 50 else {
                throw RankingJobError.output("another process is running a job with the journal \(path) (same --output?)")
            }
            usleep(20_000)
        }
        // A new journal is empty: skip reading it (Foundation's Data(contentsOf:) leaks its read
        // buffer on an empty file in Swift 6.3.1, seen by LeakSanitizer).
        var info = stat()
        let isEmpty = fstat(fd, &info) == 0 && info.st_size == 0
        do { existing = isEmpty ? [] : [UInt8](try Data(contentsOf: url)) } catch {
            throw RankingJobError.output("cannot read the journal \(path): \(error.localizedDescription)")
        }
        let headerText = magic + " identity=" + identity + "\n" + columns.joined(separator: ",") + "\n"
        let header = Array(headerText.utf8)
        var keepLength = 0
        if !existing.isEmpty {
            switch mode {
            case .fresh:
                throw RankingJobError.output("\(path) holds the journal of an earlier run: pass --resume to continue it or --overwrite to start over")
            case .overwrite:
                keepLength = 0
            case .resume:
                let lines = RankingCSV.records(existing)
                if lines.count >= 2, [Self.columns, Self.rotationColumns].contains(lines[1].fields),
                   let first = lines.first, first.fields.count == 1, first.fields[0].hasPrefix(magic + " identity=") {
                    let found = String(first.fields[0].dropFirst(magic.count + " identity=".count))
                    // The identity covers the query rotations, so it differs whenever the columns do.
                    guard found == identity, lines[1].fields == columns else {
                        throw RankingJobError.output("""
                            \(path) was written for a different query, weights or options (journal identity \(found.prefix(12))…, \
                            this run \(identity.prefix(12))…): use another --output, or --overwrite to discard it
                            """)
                    }
                    keepLength = lines[1].end
                    var previousEnd = lines[1].end
                    for line in lines.dropFirst(2) {
                        defer { previousEnd = line.end }
                        guard let record = Self.parse(line.fields, bytes: existing[previousEnd..<line.end], queryRotation: recordsRotation) else {
                            recovered.discardedLines += 1
                            continue
                        }
                        keepLength = line.end
                        if recovered.records[record.image] == nil { recovered.records[record.image] = record } else { recovered.duplicateRecords += 1 }
                    }
                    if keepLength < existing.count, (lines.last?.end ?? 0) < existing.count { recovered.discardedLines += 1 }
                } else if existing.starts(with: header.prefix(min(header.count, existing.count))) {
                    keepLength = 0  // killed while the header itself was being written
                } else if existing.starts(with: Array(magic.utf8)) {
                    throw RankingJobError.output("\(path): unreadable journal header; use --overwrite to discard it")
                } else {
                    throw RankingJobError.output("\(path) exists and is not a ranking journal; refusing to overwrite it")
                }
            }
        }
        // Cut a torn tail (or the whole file when starting over) before anything is appended, so
        // a new line never continues a partial one.
        guard ftruncate(fd, off_t(keepLength)) == 0, lseek(fd, off_t(keepLength), SEEK_SET) >= 0 else {
            throw RankingJobError.output("cannot truncate the journal \(path): \(errnoDescription())")
        }
        if keepLength == 0 { try writeDurably(header) }
        try syncDirectory(of: url)
        return recovered
    }

    /// Appends one record and waits until it is on disk.
    func append(_ record: RankingRecord) throws {
        try writeDurably(Array(Self.line(for: record, queryRotation: recordsRotation).utf8))
    }

    /// The journal line of a record, checksum and newline included.
    static func line(for record: RankingRecord, queryRotation: Bool = false) -> String {
        // Full precision ("description" round-trips), so a resumed run formats the same results
        // as an uninterrupted one.
        var fields = [record.image, record.confidenceSum.description, String(record.matches), String(record.inliers),
                      record.inlierRatio.description, String(record.keypoints), record.status, record.seconds.description]
        if queryRotation { fields.append(String(record.queryRotation)) }
        let body = fields.map(RankingCSV.quoted).joined(separator: ",")
        return body + "," + hex8(ZipStore.crc32(Data(body.utf8))) + "\n"
    }

    /// Parses and verifies one record; `bytes` is its line including the newline.
    static func parse(_ fields: [String], bytes: ArraySlice<UInt8>, queryRotation: Bool = false) -> RankingRecord? {
        guard fields.count == (queryRotation ? rotationColumns : columns).count, let checksum = fields.last else { return nil }
        // The checksum covers the raw bytes before the last comma (quoting included).
        guard let lastComma = bytes.lastIndex(of: UInt8(ascii: ",")) else { return nil }
        guard hex8(ZipStore.crc32(Data(bytes[bytes.startIndex..<lastComma]))) == checksum else { return nil }
        guard !fields[0].isEmpty, let confidence = Double(fields[1]), let matches = Int(fields[2]), let inliers = Int(fields[3]),
              let ratio = Double(fields[4]), let keypoints = Int(fields[5]), let seconds = Double(fields[7]) else { return nil }
        var rotation = 0
        if queryRotation {
            guard let angle = Int(fields[8]), RankingQueryRotations.allowed.contains(angle) else { return nil }
            rotation = angle
        }
        return RankingRecord(image: fields[0], confidenceSum: confidence, matches: matches, inliers: inliers, inlierRatio: ratio,
                             keypoints: keypoints, status: fields[6], seconds: seconds, queryRotation: rotation)
    }

    func close() {
        if descriptor >= 0 { posixClose(descriptor) }
        descriptor = -1
    }

    private func writeDurably(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                guard let base = buffer.baseAddress else { return }
                let written = posixWrite(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw RankingJobError.output("cannot append to the journal \(url.path): \(errnoDescription())")
                }
                offset += written
            }
        }
        guard fsync(descriptor) == 0 else { throw RankingJobError.output("cannot flush the journal \(url.path): \(errnoDescription())") }
    }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// `strerror` of the current `errno`.
func errnoDescription() -> String {
    String(cString: strerror(errno))
}

// File-scope wrappers: inside types, `open`/`close`/`write` would resolve to their own members.
func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
func posixClose(_ fd: Int32) { _ = close(fd) }
func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

/// fsync of a file's directory, so that a newly created or renamed entry survives a crash.
func syncDirectory(of url: URL) throws {
    let fd = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }  // best effort: some filesystems do not allow opening directories
    defer { _ = close(fd) }
    _ = fsync(fd)
}
