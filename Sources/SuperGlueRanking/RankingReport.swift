// The HTML report of a ranking job: one self-contained page (inline CSS and JavaScript, images as
// data: URIs, a Content-Security-Policy that forbids any network request) with the top images as
// thumbnails and match plots, the score histogram with the decision threshold, every row in a
// virtualised table, the run's settings and a link to the CSV. Built from the results CSV, so a
// resumed, sharded or merged job gets the same page as a single run.
import Foundation
import SuperGlueKit

/// One line of the report's settings table.
public struct RankingReportSetting: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The pictures of one top image: a thumbnail and the match plot (query left, image right).
public struct RankingReportVisual: Sendable, Equatable {
    /// The `image` column of its row.
    public var image: String
    /// JPEG bytes of the downscaled image, or nil when it could not be rendered.
    public var thumbnail: Data?
    /// JPEG bytes of the match plot, or nil when it could not be rendered.
    public var plot: Data?
    /// Matches found when the image was matched again for the plot.
    public var plotMatches: Int?
    /// Why a picture is missing, or a disagreement with the CSV worth showing.
    public var note: String?
    /// Link to the original image file, relative to the report (already percent-encoded).
    public var link: String?

    public init(image: String, thumbnail: Data? = nil, plot: Data? = nil, plotMatches: Int? = nil, note: String? = nil, link: String? = nil) {
        self.image = image
        self.thumbnail = thumbnail
        self.plot = plot
        self.plotMatches = plotMatches
        self.note = note
        self.link = link
    }
}

/// How the decision threshold was chosen.
public enum RankingReportThreshold: Sendable, Equatable {
    /// Given by the user (`--threshold`).
    case given(Double)
    /// Chosen by Otsu's method on the scores of the ranked images.
    case automatic(Double)
    /// Fewer than two distinct scores: nothing to separate.
    case none

    public var value: Double? {
        switch self {
        case .given(let v), .automatic(let v): return v
        case .none: return nil
        }
    }
}

/// Everything the page shows.
public struct RankingReportContent: Sendable {
    public var title: String
    /// The query's file name, shown in the heading.
    public var queryName: String
    /// JPEG bytes of the query's thumbnail.
    public var queryThumbnail: Data?
    /// The CSV's header and rows, in results order.
    public var header: [String]
    public var rows: [RankingResultRow]
    /// What the score column measures, e.g. "sum of the match confidences".
    public var scoreMeaning: String
    public var threshold: RankingReportThreshold
    /// Link to the results CSV, relative to the report (percent-encoded), and its display name.
    public var resultsLink: String
    public var resultsName: String
    public var settings: [RankingReportSetting]
    /// Pictures of the top rows, in results order.
    public var visuals: [RankingReportVisual]
    public var generated: Date

    public init(title: String = "Ranking report", queryName: String, queryThumbnail: Data?, header: [String] = RankingCSV.header,
                rows: [RankingResultRow], scoreMeaning: String, threshold: RankingReportThreshold, resultsLink: String,
                resultsName: String, settings: [RankingReportSetting], visuals: [RankingReportVisual], generated: Date) {
        self.title = title
        self.queryName = queryName
        self.queryThumbnail = queryThumbnail
        self.header = header
        self.rows = rows
        self.scoreMeaning = scoreMeaning
        self.threshold = threshold
        self.resultsLink = resultsLink
        self.resultsName = resultsName
        self.settings = settings
        self.visuals = visuals
        self.generated = generated
    }
}

/// Builds the report page.
public enum RankingReport {
    /// The status column's index in a results header.
    static func column(_ name: String, in header: [String]) -> Int? { header.firstIndex(of: name) }

    /// Scores of the rows whose status is `ok` (failed rows have score 0 by convention and would
    /// swamp the histogram's first bin).
    public static func rankedScores(_ rows: [RankingResultRow], header: [String] = RankingCSV.header) -> [Double] {
        guard let status = column("status", in: header) else { return rows.map(\.score) }
        return rows.filter { $0.fields.indices.contains(status) && $0.fields[status] == RankingRecord.okStatus }.map(\.score)
    }

    /// The automatic decision threshold: Otsu's method on `log(1 + score)` (scores are
    /// non-negative and heavy-tailed: a few matching images score orders of magnitude above the
    /// rest, and on a linear scale the strongest match alone would pull the cut above weaker true
    /// matches), mapped back to a score. Nil with fewer than two distinct scores.
    ///
    /// An unsupervised guess: it separates two groups of scores when there are two; the page says so.
    public static func automaticThreshold(_ scores: [Double]) -> Double? {
        otsuThreshold(scores.filter(\.isFinite).map { log1p(max($0, 0)) }).map { expm1($0) }
    }

    /// Otsu's threshold: the cut of a 256-bin histogram of `values` that maximises the
    /// between-class variance, placed in the middle of the widest run of equally good cuts (so a
    /// gap between two groups gets its centre). Nil with fewer than two distinct values.
    public static func otsuThreshold(_ values: [Double]) -> Double? {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max(), high > low else { return nil }
        let bins = 256
        var counts = [Double](repeating: 0, count: bins)
        var sums = [Double](repeating: 0, count: bins)
        let width = (high - low) / Double(bins)
        for s in finite {
            let b = min(bins - 1, Int((s - low) / width))
            counts[b] += 1
            sums[b] += s
        }
        let total = Double(finite.count), totalSum = sums.reduce(0, +)
        var bestValue = -1.0, bestFirst = 0, bestLast = 0
        var weight0 = 0.0, sum0 = 0.0
        // A cut after bin `b`: class 0 holds bins 0...b.
        for b in 0..<(bins - 1) {
            weight0 += counts[b]
            sum0 += sums[b]
            let weight1 = total - weight0
            guard weight0 > 0, weight1 > 0 else { continue }
            let mean0 = sum0 / weight0, mean1 = (totalSum - sum0) / weight1
            let value = weight0 * weight1 * (mean0 - mean1) * (mean0 - mean1)
            if value > bestValue * (1 + 1e-12) {
                bestValue = value
                bestFirst = b
                bestLast = b
            } else if abs(value - bestValue) <= bestValue * 1e-12, bestLast == b - 1 {
                bestLast = b
            }
        }
        guard bestValue >= 0 else { return nil }
        // Cuts after bins bestFirst...bestLast are equally good: the threshold is the middle of
        // the empty range they span, i.e. between the upper edges of those bins.
        let lowerEdge = low + Double(bestFirst + 1) * width, upperEdge = low + Double(bestLast + 1) * width
        return (lowerEdge + upperEdge) / 2
    }

    // MARK: Escaping

    /// Text for HTML element content and quoted attribute values.
    public static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters (other than tab and newlines) cannot appear in HTML text.
                if c.value < 0x20 && c != "\t" && c != "\n" && c != "\r" || c.value == 0x7F {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }

    /// JSON text that is safe inside a `<script>` element: `<`, `>` and `&` are written as
    /// `\u003c` etc., so no `</script>` or `<!--` can appear, and U+2028/2029 are escaped.
    static func scriptSafeJSON(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
        var out = ""
        out.reserveCapacity(data.count)
        for c in String(decoding: data, as: UTF8.self).unicodeScalars {
            switch c {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A relative link from a file in `folder` to `file`: `/`-separated, each segment
    /// percent-encoded (everything but ASCII letters, digits and `-._~`, so no segment can be
    /// read as a URL scheme, query or fragment).
    public static func relativeLink(from folder: URL, to file: URL) -> String {
        let from = folder.standardizedFileURL.pathComponents.filter { $0 != "/" }
        let to = file.standardizedFileURL.pathComponents.filter { $0 != "/" }
        var common = 0
        while common < from.count, common < to.count - 1, from[common] == to[common] { common += 1 }
        let segments = Array(repeating: "..", count: from.count - common) + to[common...].map(percentEncodedSegment)
        return segments.joined(separator: "/")
    }

    static func percentEncodedSegment(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func dataURI(jpeg: Data) -> String { "data:image/jpeg;base64," + jpeg.base64EncodedString() }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(format: abs(value) >= 100 ? "%.1f" : "%.3f", value)
    }

    // MARK: Histogram

    /// An inline SVG histogram of `scores` with a vertical line at the threshold. Both axes are
    /// logarithmic: counts (a few matching images sit beside thousands of others) and scores, as
    /// log(1 + score) (scores are non-negative and heavy-tailed; the automatic threshold is chosen
    /// on the same scale). The page's script moves the line when the threshold field changes,
    /// from the `data-` attributes of the SVG.
    static func histogramSVG(scores: [Double], threshold: Double?, failed: Int) -> String {
        let width = 760.0, height = 240.0, left = 48.0, right = 16.0, top = 14.0, bottom = 36.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func scaled(_ score: Double) -> Double { log1p(max(score, 0)) }
        let high = max(scaled(scores.max() ?? 1), scaled(threshold ?? 0), log1p(1))
        let bins = 50
        var counts = [Int](repeating: 0, count: bins)
        for s in scores where s.isFinite { counts[min(bins - 1, Int(scaled(s) / high * Double(bins)))] += 1 }
        let peak = counts.max() ?? 0
        let logPeak = log10(Double(max(peak, 1)) + 1)
        func y(_ count: Int) -> Double { top + plotHeight - plotHeight * log10(Double(count) + 1) / logPeak }
        func x(_ score: Double) -> Double { left + plotWidth * min(scaled(score), high) / high }
        var svg = "<svg class=\"hist\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"Score histogram\""
        svg += " data-high=\"\(high)\" data-left=\"\(left)\" data-plot-width=\"\(plotWidth)\">"
        // Count axis: decades.
        var decade = 1
        while decade <= max(peak, 1) {
            let yy = y(decade)
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(yy)\" y2=\"\(yy)\"/>"
            svg += "<text class=\"tick\" x=\"\(left - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(decade)</text>"
            decade *= 10
        }
        let barWidth = plotWidth / Double(bins)
        for (b, count) in counts.enumerated() where count > 0 {
            let x0 = left + Double(b) * barWidth, yy = y(count)
            let from = expm1(Double(b) * high / Double(bins)), to = expm1(Double(b + 1) * high / Double(bins))
            svg += "<rect x=\"\(x0 + 0.5)\" y=\"\(yy)\" width=\"\(max(barWidth - 1, 0.5))\" height=\"\(top + plotHeight - yy)\">"
            svg += "<title>\(format(from)) to \(format(to)): \(count) image(s)</title></rect>"
        }
        svg += "<line class=\"axis\" x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(top + plotHeight)\" y2=\"\(top + plotHeight)\"/>"
        // Score ticks at 0, 1, 3, 10, 30, ...: the 1-3 sequence, as far as the scores go.
        var ticks: [Double] = [0]
        var decadeValue = 1.0
        while scaled(decadeValue) <= high * 1.0001 {
            ticks.append(decadeValue)
            if scaled(3 * decadeValue) <= high * 1.0001 { ticks.append(3 * decadeValue) }
            decadeValue *= 10
        }
        for value in ticks {
            svg += "<text class=\"tick\" x=\"\(x(value))\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(format(value))</text>"
        }
        svg += "<text class=\"label\" x=\"\(left + plotWidth / 2)\" y=\"\(height - 4)\" text-anchor=\"middle\">score (log scale)</text>"
        svg += "<text class=\"label\" x=\"12\" y=\"\(top + plotHeight / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 12 \(top + plotHeight / 2))\">images (log)</text>"
        let tx = x(threshold ?? 0)
        let hidden = threshold == nil ? " visibility=\"hidden\"" : ""
        svg += "<line id=\"threshold-line\" class=\"threshold\" x1=\"\(tx)\" x2=\"\(tx)\" y1=\"\(top - 4)\" y2=\"\(top + plotHeight)\"\(hidden)/>"
        svg += "<text id=\"threshold-label\" class=\"threshold-label\" x=\"\(tx + 4)\" y=\"\(top + 6)\"\(hidden)>threshold \(threshold.map(format) ?? "")</text>"
        svg += "</svg>"
        if failed > 0 { svg += "<p class=\"note\">\(failed) image(s) that could not be ranked are not in the histogram.</p>" }
        return svg
    }

    // MARK: Page

    /// The whole page.
    public static func html(_ content: RankingReportContent) throws -> String {
        let e = escapeHTML
        let scores = rankedScores(content.rows, header: content.header)
        let failed = content.rows.count - scores.count
        let threshold = content.threshold.value
        let above = threshold.map { t in scores.filter { $0 >= t }.count }
        let date = ISO8601DateFormatter().string(from: content.generated)

        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(content.title)): \(e(content.queryName))</title>
            <style>\(stylesheet)</style>
            </head>
            <body>
            <header>
            <h1>\(e(content.title))</h1>
            <p class="sub">query <b>\(e(content.queryName))</b> &middot; \(content.rows.count) image(s) &middot; generated \(e(date)) &middot; <a id="csv-link" href="\(e(content.resultsLink))">\(e(content.resultsName))</a></p>
            </header>

            """
        // Summary: query, counts, histogram.
        page += "<section id=\"summary\"><div class=\"query\">"
        if let thumb = content.queryThumbnail {
            page += "<img class=\"query-thumb\" alt=\"query\" src=\"\(dataURI(jpeg: thumb))\">"
        }
        page += "<p>Score: \(e(content.scoreMeaning)).</p><ul class=\"counts\">"
        page += "<li><b>\(scores.count)</b> ranked</li><li><b>\(failed)</b> could not be ranked</li>"
        page += "<li><b id=\"above-count\">\(above.map(String.init) ?? "–")</b> at or above the threshold</li></ul>"
        page += "<p><label>Decision threshold <input id=\"threshold\" type=\"number\" step=\"any\" value=\"\(threshold.map { String(format: "%.6g", $0) } ?? "")\"></label></p>"
        page += "<p class=\"note\">\(e(thresholdNote(content.threshold)))</p></div>"
        page += "<div class=\"histogram\">\(histogramSVG(scores: scores, threshold: threshold, failed: failed))</div></section>\n"

        // Top images.
        page += "<section id=\"top\"><h2>Top \(content.visuals.count)</h2>"
        if content.visuals.isEmpty { page += "<p class=\"note\">No ranked images.</p>" }
        page += "<div class=\"cards\">"
        let rowsByImage = Dictionary(content.rows.enumerated().map { ($0.element.image, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let statusColumn = column("status", in: content.header)
        let matchesColumn = column("matches", in: content.header), inliersColumn = column("inliers", in: content.header)
        for visual in content.visuals {
            let index = rowsByImage[visual.image]
            let row = index.map { content.rows[$0] }
            func field(_ c: Int?) -> String { guard let row, let c, row.fields.indices.contains(c) else { return "" }; return row.fields[c] }
            let isAbove = threshold.map { t in (row?.score ?? -.infinity) >= t } ?? false
            page += "<figure class=\"card\(isAbove ? " above" : "")\" data-score=\"\(row?.score ?? 0)\">"
            page += "<figcaption><span class=\"rank\">#\((index ?? 0) + 1)</span> <span class=\"score\">\(e(row?.fields.first ?? ""))</span> "
            let name = "<span class=\"name\">\(e(visual.image))</span>"
            page += visual.link.map { "<a href=\"\(e($0))\">\(name)</a>" } ?? name
            page += "<br><span class=\"meta\">\(e(field(matchesColumn))) matches, \(e(field(inliersColumn))) inliers"
            if let s = statusColumn, field(s) != RankingRecord.okStatus { page += ", \(e(field(s)))" }
            page += "</span></figcaption><div class=\"pictures\">"
            if let thumb = visual.thumbnail {
                page += "<img class=\"thumb\" alt=\"\(e(visual.image))\" src=\"\(dataURI(jpeg: thumb))\">"
            }
            if let plot = visual.plot {
                page += "<img class=\"plot\" alt=\"matches of the query with \(e(visual.image))\" src=\"\(dataURI(jpeg: plot))\">"
            }
            page += "</div>"
            if let note = visual.note { page += "<p class=\"note\">\(e(note))</p>" }
            page += "</figure>"
        }
        page += "</div></section>\n"

        // All rows: the script fills a virtualised table from the JSON below.
        page += """
            <section id="all"><h2>All results</h2>
            <p class="controls"><label>Filter <input id="filter" type="search" placeholder="image name or status"></label>
            <span id="shown"></span> &middot; click a column to sort</p>
            <div id="viewport" class="viewport">
            <table class="head"><colgroup>\(colgroup(content.header))</colgroup><thead><tr>
            """
        for (i, name) in content.header.enumerated() {
            page += "<th data-column=\"\(i)\"\(isTextColumn(name) ? " class=\"text\"" : "")>\(e(name))</th>"
        }
        page += """
            </tr></thead></table>
            <div id="spacer" class="spacer"></div>
            <table id="rows" class="body"><colgroup>\(colgroup(content.header))</colgroup><tbody id="tbody"></tbody></table>
            </div>
            <noscript><p class="note">The table needs JavaScript; every row is in <a href="\(e(content.resultsLink))">\(e(content.resultsName))</a>.</p></noscript>
            </section>

            """

        // Settings.
        page += "<section id=\"settings\"><h2>Settings</h2><table class=\"settings\"><tbody>"
        for setting in content.settings {
            page += "<tr><th>\(e(setting.name))</th><td>\(e(setting.value))</td></tr>"
        }
        page += "</tbody></table></section>\n"

        let data: [String: Any] = ["header": content.header, "rows": content.rows.map(\.fields), "threshold": threshold ?? NSNull()]
        page += "<script id=\"data\" type=\"application/json\">\(try scriptSafeJSON(data))</script>\n"
        page += "<script>\(script)</script>\n</body>\n</html>\n"
        return page
    }

    static func thresholdNote(_ threshold: RankingReportThreshold) -> String {
        switch threshold {
        case .given: return "Threshold given with --threshold."
        case .automatic: return "Threshold chosen automatically (Otsu's method on log(1 + score) of the ranked images): a guess that separates two groups of scores; pass --threshold to set it. Edit the field to move it here."
        case .none: return "No threshold: fewer than two distinct scores. Pass --threshold to set one."
        }
    }

    /// Column widths shared by the header table and the body table (fixed layout).
    static func colgroup(_ header: [String]) -> String {
        header.map { name -> String in
            switch name {
            case "image": return "<col class=\"wide\">"
            case "status": return "<col class=\"status\">"
            case "score": return "<col class=\"score\">"
            default: return "<col>"
            }
        }.joined()
    }

    /// Columns shown left-aligned and sorted as text.
    static func isTextColumn(_ name: String) -> Bool { name == "image" || name == "status" }

    static let stylesheet = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
        header{padding:16px 24px;background:#20232a;color:#fff}header h1{margin:0;font-size:22px}
        header a{color:#9cd3ff}.sub{margin:4px 0 0;color:#ddd}
        section{padding:8px 24px}h2{font-size:18px;margin:12px 0 8px}
        #summary{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
        .query{max-width:360px}.query-thumb{max-width:240px;max-height:180px;border:1px solid #ccc;display:block}
        .counts{padding-left:18px;margin:6px 0}.note{color:#666;font-size:12px}
        .hist{width:760px;max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
        .hist rect{fill:#4a7fc1}.hist .grid{stroke:#eee}.hist .axis{stroke:#888}
        .hist .tick,.hist .label{font-size:11px;fill:#555}.hist .threshold{stroke:#d62728;stroke-width:2;stroke-dasharray:5 3}.hist .threshold-label{font-size:11px;fill:#d62728}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
        .card{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;contain:content}
        .card.above{border-color:#2ca02c;box-shadow:0 0 0 1px #2ca02c}
        .card figcaption{margin-bottom:6px;word-break:break-all}.rank{font-weight:bold}.score{font-family:monospace}
        .meta{color:#666;font-size:12px}.pictures{display:flex;gap:8px;align-items:flex-start;overflow:hidden}
        .thumb{max-width:160px;max-height:160px;flex:none}.plot{max-width:calc(100% - 168px);height:auto;min-width:0}
        .controls input{width:240px}
        .viewport{height:60vh;min-height:240px;overflow-y:auto;position:relative;contain:strict;border:1px solid #ddd;background:#fff;max-width:1200px}
        .viewport table{border-collapse:collapse;table-layout:fixed;width:100%}
        .viewport th,.viewport td{padding:0 6px;height:24px;line-height:24px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;text-align:right;font-variant-numeric:tabular-nums}
        .viewport th.text,.viewport td.text{text-align:left}
        .viewport col.wide{width:36%}.viewport col.status{width:15%}.viewport col.score{width:11%}
        .head{position:sticky;top:0;z-index:1}
        .viewport th{background:#f0f0f0;cursor:pointer;box-shadow:inset 0 -1px #ccc;user-select:none}
        .viewport th.sorted-asc::after{content:" \\25B2"}.viewport th.sorted-desc::after{content:" \\25BC"}
        .spacer{width:1px}.body{position:absolute;top:24px;left:0}
        .body tr:nth-child(even){background:#f7f7f7}.body tr.above td:first-child{box-shadow:inset 3px 0 #2ca02c}
        .body tr.failed{color:#a33}
        .settings th{text-align:left;padding:2px 12px 2px 0;vertical-align:top;white-space:nowrap}
        .settings td{font-family:monospace;word-break:break-all}
        """

    /// The table: only the rows in view (plus a margin) exist in the DOM; scrolling, sorting and
    /// filtering re-render them from the JSON data.
    static let script = #"""
        (function () {
          "use strict";
          // Since navigation start: the time to load and parse the page up to this script.
          var started = performance.now();
          document.documentElement.setAttribute("data-parsed-ms", started.toFixed(1));
          var data = JSON.parse(document.getElementById("data").textContent);
          var header = data.header, all = data.rows;
          var scoreColumn = header.indexOf("score"), statusColumn = header.indexOf("status"), imageColumn = header.indexOf("image");
          var textColumns = {}; textColumns[imageColumn] = true; textColumns[statusColumn] = true;
          var ROW = 24, MARGIN = 12;
          var viewport = document.getElementById("viewport"), spacer = document.getElementById("spacer");
          var table = document.getElementById("rows"), tbody = document.getElementById("tbody");
          var thresholdInput = document.getElementById("threshold"), filterInput = document.getElementById("filter");
          var view = all.slice(), sortColumn = -1, sortDescending = false, threshold = data.threshold, first = -1, last = -1;
          for (var i = 0; i < all.length; i++) { all[i].rank = i + 1; }

          function isAbove(row) { return threshold !== null && row[statusColumn] === "ok" && Number(row[scoreColumn]) >= threshold; }

          function render(force) {
            var top = viewport.scrollTop, height = viewport.clientHeight || 480;
            var from = Math.max(0, Math.floor(top / ROW) - MARGIN);
            var to = Math.min(view.length, Math.ceil((top + height) / ROW) + MARGIN);
            if (!force && from === first && to === last) { return; }
            first = from; last = to;
            var fragment = document.createDocumentFragment();
            for (var r = from; r < to; r++) {
              var row = view[r], tr = document.createElement("tr");
              if (isAbove(row)) { tr.className = "above"; } else if (row[statusColumn] !== "ok") { tr.className = "failed"; }
              for (var c = 0; c < row.length; c++) {
                var td = document.createElement("td");
                td.textContent = row[c];
                if (textColumns[c]) { td.className = "text"; td.title = row[c]; }
                tr.appendChild(td);
              }
              fragment.appendChild(tr);
            }
            tbody.replaceChildren(fragment);
            table.style.transform = "translateY(" + (from * ROW) + "px)";
            // The row height the positions assume must be the one the browser lays out.
            var measured = tbody.rows.length ? tbody.rows[0].getBoundingClientRect().height : 0;
            if (measured > 0 && Math.abs(measured - ROW) > 0.01) { ROW = measured; refresh(); }
          }

          function refresh() {
            spacer.style.height = (view.length * ROW) + "px";
            document.getElementById("shown").textContent = view.length + " of " + all.length + " rows";
            render(true);
          }

          function applyFilter() {
            var needle = filterInput.value.trim().toLowerCase();
            view = needle === "" ? all.slice() : all.filter(function (row) {
              return row[imageColumn].toLowerCase().indexOf(needle) >= 0 || row[statusColumn].toLowerCase().indexOf(needle) >= 0;
            });
            sortView();
            viewport.scrollTop = 0;
            refresh();
          }

          function sortView() {
            if (sortColumn < 0) { view.sort(function (a, b) { return a.rank - b.rank; }); return; }
            var c = sortColumn, sign = sortDescending ? -1 : 1, numeric = !textColumns[c];
            view.sort(function (a, b) {
              var x = numeric ? Number(a[c]) : a[c], y = numeric ? Number(b[c]) : b[c];
              if (x < y) { return -sign; } if (x > y) { return sign; } return a.rank - b.rank;
            });
          }

          document.querySelectorAll("th[data-column]").forEach(function (th) {
            th.addEventListener("click", function () {
              var c = Number(th.getAttribute("data-column"));
              if (sortColumn === c) { sortDescending = !sortDescending; } else { sortColumn = c; sortDescending = !textColumns[c]; }
              document.querySelectorAll("th[data-column]").forEach(function (other) { other.classList.remove("sorted-asc", "sorted-desc"); });
              th.classList.add(sortDescending ? "sorted-desc" : "sorted-asc");
              sortView();
              refresh();
            });
          });

          function applyThreshold() {
            var value = thresholdInput.value === "" ? null : Number(thresholdInput.value);
            threshold = value === null || isNaN(value) ? null : value;
            var svg = document.querySelector("svg.hist"), line = document.getElementById("threshold-line");
            var label = document.getElementById("threshold-label");
            if (svg && line && label) {
              if (threshold === null) { line.setAttribute("visibility", "hidden"); label.setAttribute("visibility", "hidden"); } else {
                var high = Number(svg.dataset.high);
                var x = Number(svg.dataset.left) + Number(svg.dataset.plotWidth) * Math.min(Math.log1p(Math.max(threshold, 0)), high) / high;
                line.setAttribute("x1", x); line.setAttribute("x2", x); line.removeAttribute("visibility");
                label.setAttribute("x", x + 4); label.textContent = "threshold " + threshold; label.removeAttribute("visibility");
              }
            }
            var count = 0;
            for (var i = 0; i < all.length; i++) { if (isAbove(all[i])) { count++; } }
            document.getElementById("above-count").textContent = threshold === null ? "\u2013" : String(count);
            document.querySelectorAll("figure.card").forEach(function (card) {
              card.classList.toggle("above", threshold !== null && Number(card.dataset.score) >= threshold);
            });
            render(true);
          }

          var pending = false;
          viewport.addEventListener("scroll", function () {
            if (pending) { return; }
            pending = true;
            requestAnimationFrame(function () { pending = false; render(false); });
          });
          filterInput.addEventListener("input", applyFilter);
          thresholdInput.addEventListener("input", applyThreshold);
          // For scripts driving the page (Tools/report/screenshot.py --measure times these).
          window.rankingReport = {
            rowCount: function () { return view.length; },
            scrollToRow: function (r) { viewport.scrollTop = r * ROW; render(false); return tbody.rows.length; }
          };
          refresh();
          document.documentElement.setAttribute("data-ready-ms", (performance.now() - started).toFixed(1));
        })();
        """#
}
