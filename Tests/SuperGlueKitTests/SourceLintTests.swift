// No `try!`, `as!`, `fatalError` or force unwrap in Sources/, so nothing a user controls
// (files, options, environment) can reach a trap through them. The only exception is
// `.baseAddress!` on buffers whose non-emptiness the surrounding code has established (weights of
// validated shapes, images checked to be at least 8x8); a line may also opt out explicitly with
// `// lint: allow <reason>`.
import Foundation
import Testing

@Suite struct SourceLintTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// The line without its `//` comment and with string literal contents blanked.
    static func code(_ line: String) -> String {
        var out = ""
        var inString = false
        var previous: Character = " "
        var iterator = Array(line).makeIterator()
        while let c = iterator.next() {
            if !inString && c == "/" && previous == "/" { out.removeLast(); break }
            if c == "\"" && previous != "\\" { inString.toggle(); out.append(c) } else { out.append(inString ? "_" : c) }
            previous = c
        }
        return out
    }

    static func violations(in text: String) -> [String] {
        var found: [String] = []
        let forceUnwrap = try! Regex(#"[A-Za-z0-9_\)\]]!(?!=)"#)  // lint: allow constant pattern
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let raw = String(line)
            if raw.contains("// lint: allow") { continue }
            let c = code(raw)
            if c.contains("try!") || c.contains("as!") || c.contains("fatalError(") {
                found.append("\(n + 1): \(raw.trimmingCharacters(in: .whitespaces))")
                continue
            }
            let stripped = c.replacingOccurrences(of: ".baseAddress!", with: ".baseAddress")
            if stripped.contains(forceUnwrap) { found.append("\(n + 1): \(raw.trimmingCharacters(in: .whitespaces))") }
        }
        return found
    }

    @Test func detectorCatchesEachForm() {
        #expect(Self.violations(in: "let x = try! f()").count == 1)
        #expect(Self.violations(in: "let y = z as! Int").count == 1)
        #expect(Self.violations(in: "fatalError(\"no\")").count == 1)
        #expect(Self.violations(in: "let v = dict[k]!").count == 1)
        #expect(Self.violations(in: "let v = opt!.count").count == 1)
        #expect(Self.violations(in: "if a != b, !c { } // x!").isEmpty)
        #expect(Self.violations(in: "let s = \"hi!\"").isEmpty)
        #expect(Self.violations(in: "f(p.baseAddress!)").isEmpty)
    }

    @Test func sourcesAreClean() throws {
        let files = FileManager.default.enumerator(at: Self.sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 20)
        var report: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            report += Self.violations(in: text).map { "\(file.lastPathComponent):\($0)" }
        }
        #expect(report.isEmpty, "\(report.joined(separator: "\n"))")
    }
}
