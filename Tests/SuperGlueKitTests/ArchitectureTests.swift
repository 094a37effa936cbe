// ARCHITECTURE.md's module table is the rule: it must match Package.swift's target dependencies,
// and no source file may import a package module its target does not list.
import Foundation
import Testing

@Suite struct ArchitectureTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Module -> allowed imports, from the table between the module-graph markers.
    static func documentedGraph() throws -> [String: Set<String>] {
        let text = try String(contentsOf: repository.appendingPathComponent("ARCHITECTURE.md"), encoding: .utf8)
        guard let start = text.range(of: "<!-- module-graph -->"), let end = text.range(of: "<!-- /module-graph -->") else {
            throw CocoaError(.fileReadCorruptFile)
        }
        var graph: [String: Set<String>] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| ") && !line.contains("---") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[1] != "Module" else { continue }
            let imports = cells[2].hasPrefix("(") ? [] : cells[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            graph[cells[1]] = Set(imports.filter { !$0.isEmpty })
        }
        return graph
    }

    /// Non-test targets of Package.swift with their dependencies, from `swift package dump-package`.
    static func packageGraph() throws -> [String: Set<String>]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // A scratch path of its own: the running `swift test` holds the lock on .build.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dump-package-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        process.arguments = ["swift", "package", "--package-path", repository.path, "--scratch-path", scratch.path, "dump-package"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let targets = json["targets"] as? [[String: Any]] else { return nil }
        var graph: [String: Set<String>] = [:]
        for target in targets where (target["type"] as? String) != "test" {
            guard let name = target["name"] as? String, !(target["path"] as? String ?? "").hasPrefix("Tests") else { continue }
            let dependencies = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { entry in
                entry.values.compactMap { ($0 as? [Any])?.first as? String }.first
            }
            graph[name] = Set(dependencies)
        }
        return graph
    }

    @Test func documentedModuleGraphMatchesPackageSwift() throws {
        let documented = try Self.documentedGraph()
        guard let package = try Self.packageGraph() else {
            Issue.record("`swift package dump-package` did not run; cannot compare ARCHITECTURE.md with Package.swift")
            return
        }
        #expect(Set(documented.keys) == Set(package.keys), "modules: documented \(documented.keys.sorted()), package \(package.keys.sorted())")
        for (module, dependencies) in package {
            #expect(documented[module] == dependencies, "\(module): ARCHITECTURE.md says \(documented[module]?.sorted() ?? []), Package.swift \(dependencies.sorted())")
        }
    }

    @Test func sourcesImportOnlyWhatTheirModuleMay() throws {
        let documented = try Self.documentedGraph()
        let modules = Set(documented.keys)
        let sources = Self.repository.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(!files.isEmpty)
        for file in files {
            let module = file.path.dropFirst(sources.path.count + 1).split(separator: "/").first.map(String.init) ?? ""
            let allowed = documented[module] ?? []
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                      words[..<index].allSatisfy({ $0.hasPrefix("@") }) else { continue }
                let imported = words[index + 1]
                if modules.contains(imported) {
                    #expect(allowed.contains(imported), "\(file.lastPathComponent) (\(module)) imports \(imported), which ARCHITECTURE.md does not allow")
                }
            }
        }
    }
}
