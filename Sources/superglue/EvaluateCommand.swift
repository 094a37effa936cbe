// `superglue evaluate`: ranking quality of `superglue rank` results against ground-truth labels.
import ArgumentParser
import Foundation
import SuperGlueRanking

extension RankingEvaluationColumn: ExpressibleByArgument {}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure how well `superglue rank` results put the images that contain the query on top.",
        discussion: """
            LABELS is a CSV with the columns image (as in the results CSV) and label (1: contains the \
            query, 0: does not), and optionally bin (a group of the positives, e.g. a difficulty), in any \
            order. Every ranked image needs a label and every labeled image a results row. Give --results \
            and --labels once per query (in the same order) to evaluate several queries: the means over \
            queries are reported, and the identification recall@1 (an image counts when its own query \
            scores it higher than every other query does). Reports average precision (scikit-learn's \
            step-wise definition, tied scores entering together), ROC AUC (ties count one half), \
            precision and recall at k (tied groups at the cut-off counted by their expected value), and \
            the "contains" threshold of maximum F1 (decide yes when score >= threshold), per query, per \
            bin and over all queries' scores pooled. Writes the JSON report to --output and prints a table.
            """)

    @Option(help: ArgumentHelp("Results CSV of `superglue rank` (repeat for several queries).", valueName: "file"))
    var results: [String]

    @Option(help: ArgumentHelp("Labels CSV for the --results at the same position.", valueName: "file"))
    var labels: [String]

    @Option(help: ArgumentHelp("JSON report to write.", valueName: "file"))
    var output: String?

    @Option(help: "Results column that ranks the images: score, matches, inliers or inlier_ratio.")
    var scoreColumn: RankingEvaluationColumn = .score

    @Option(help: ArgumentHelp("Cut-offs of precision and recall at k, comma-separated.", valueName: "k,..."))
    var k: String = RankingEvaluation.defaultCutoffs.map(String.init).joined(separator: ",")

    @Flag(help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        guard !results.isEmpty else { throw ValidationError("give --results FILE --labels FILE (once per query)") }
        guard results.count == labels.count else {
            throw ValidationError("give one --labels per --results (got \(results.count) results and \(labels.count) labels)")
        }
        _ = try cutoffs()
    }

    func cutoffs() throws -> [Int] {
        let values = k.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--k takes positive integers separated by commas, got '\(k)'")
        }
        return values.compactMap { $0 }
    }

    func run() throws {
        var inputs: [RankingEvaluation.QueryInput] = []
        for (resultsPath, labelsPath) in zip(results, labels) {
            let rows = try RankingCSV.readResults(URL(fileURLWithPath: resultsPath))
            let labelMap = try RankingLabels.read(URL(fileURLWithPath: labelsPath))
            let items = try RankingLabels.join(rows, labels: labelMap, column: scoreColumn, resultsName: resultsPath, labelsName: labelsPath)
            let failed = rows.filter { $0.fields[6] != RankingRecord.okStatus }.count
            inputs.append(.init(results: resultsPath, labels: labelsPath, items: items, failedImages: failed))
        }
        let report = RankingEvaluation.report(inputs, column: scoreColumn, cutoffs: try cutoffs())
        if let output {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
            try RankingJob.writeAtomically(text, to: URL(fileURLWithPath: output))
        }
        if !quiet { print(Self.table(report), terminator: "") }
    }

    /// The printed summary: one line per query, per bin and overall, then the threshold.
    static func table(_ report: RankingEvaluationReport) -> String {
        func number(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "-" }
        let cutoffs = report.overall.atK.map(\.k)
        let header = ["ranking", "pos", "AP", "ROC-AUC"] + cutoffs.flatMap { ["P@\($0)", "R@\($0)"] } + ["id-R@1"]
        var rows: [[String]] = []
        func row(_ name: String, positives: Int, ap: Double?, auc: Double?, atK: [PrecisionRecallAtK], identification: Double?) -> [String] {
            [name, String(positives), number(ap), number(auc)] + atK.flatMap { [number($0.precision), number($0.recall)] } + [number(identification)]
        }
        if report.queries.count > 1 {
            for query in report.queries {
                let m = query.metrics
                rows.append(row(URL(fileURLWithPath: query.results).lastPathComponent, positives: m.positives,
                                ap: m.averagePrecision, auc: m.rocAUC, atK: m.atK, identification: nil))
            }
        }
        for (bin, s) in report.bins.sorted(by: { $0.key < $1.key }) {
            rows.append(row("bin \(bin)", positives: s.positives, ap: s.meanAveragePrecision, auc: s.meanROCAUC, atK: s.atK, identification: s.identificationRecallAt1))
        }
        let o = report.overall
        rows.append(row(report.queries.count > 1 ? "mean of \(report.queries.count) queries" : "all", positives: o.positives,
                        ap: o.meanAveragePrecision, auc: o.meanROCAUC, atK: o.atK, identification: o.identificationRecallAt1))
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        func line(_ fields: [String]) -> String {
            fields.enumerated().map { c, f in c == 0 ? f.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                                                    : String(repeating: " ", count: widths[c] - f.count) + f }
                .joined(separator: "  ") + "\n"
        }
        var text = line(header) + rows.map(line).joined()
        if let t = report.pooledThreshold {
            text += "contains if \(report.scoreColumn.rawValue) >= \(t.threshold)"
                + (t.nextScoreBelow.map { " (next score below: \($0))" } ?? "")
                + String(format: ": precision %.3f, recall %.3f, F1 %.3f (%d true, %d false positives; max F1 over all queries' scores)\n",
                         t.precision, t.recall, t.f1, t.truePositives, t.falsePositives)
        }
        let failed = report.queries.map(\.failedImages).reduce(0, +)
        if failed > 0 { text += "note: \(failed) row(s) have a status other than ok and rank with their score 0\n" }
        return text
    }
}
