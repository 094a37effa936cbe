// `superglue evaluate` as a process: results CSVs and labels written here, the JSON report and the
// printed table checked against hand-computed values (the metric definitions are tested in
// SuperGlueKitTests' RankingMetricsTests).
import Foundation
import Testing

@Suite struct EvaluateCLITests {
    static let header = "score,image,matches,inliers,inlier_ratio,keypoints,status,seconds\n"

    /// Query 0: a=3 (positive, easy), b=2, c=2 (positive, hard), d=0 (status unreadable);
    /// inliers 10, 0, 5, 1. Query 1: a=1 (positive, easy), b=4, c=0, d=0.5.
    static func writeInputs(_ folder: URL) throws {
        let files = [
            "q0.csv": header + "3.000000,a.jpg,12,10,0.8333,100,ok,0.1\n2.000000,b.jpg,8,0,0.0000,100,ok,0.1\n"
                + "2.000000,c.jpg,9,5,0.5556,100,ok,0.1\n0.000000,d.jpg,0,1,0.0000,0,unreadable: Permission denied,0.0\n",
            "q1.csv": header + "4.000000,b.jpg,9,3,0.3333,100,ok,0.1\n1.000000,a.jpg,4,4,1.0000,100,ok,0.1\n"
                + "0.500000,d.jpg,2,0,0.0000,100,ok,0.1\n0.000000,c.jpg,0,0,0.0000,100,ok,0.1\n",
            "q0.labels.csv": "image,label,bin\na.jpg,1,easy\nb.jpg,0,background\nc.jpg,1,hard\nd.jpg,0,distractor\n",
            "q1.labels.csv": "label,image,bin\n1,a.jpg,easy\n0,b.jpg,\n0,c.jpg,other-query\n0,d.jpg,\n",
            "missing.labels.csv": "image,label\na.jpg,1\nb.jpg,0\nc.jpg,1\n",
        ]
        for (name, text) in files { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
    }

    static func number(_ object: Any?, _ path: [String]) -> Double? {
        var current = object
        for key in path { current = (current as? [String: Any])?[key] }
        return current as? Double ?? (current as? Int).map(Double.init)
    }

    @Test func reportsTwoQueries() throws {
        let folder = try CLIFixtures.temporaryFolder("evaluate")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeInputs(folder)
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        let result = try RankCLI.run(["evaluate", "--results", path("q0.csv"), "--labels", path("q0.labels.csv"),
                                      "--results", path("q1.csv"), "--labels", path("q1.labels.csv"),
                                      "--output", path("report.json"), "--k", "1,2"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json")))
        // AP: query 0 5/6 (ties b, c enter together), query 1 1/2; easy bin 1 and 1/2; hard bin 1/2.
        #expect(abs((Self.number(report, ["overall", "mean_average_precision"]) ?? -1) - (5.0 / 6 + 0.5) / 2) < 1e-12)
        #expect(Self.number(report, ["bins", "easy", "mean_average_precision"]) == 0.75)
        #expect(Self.number(report, ["bins", "hard", "mean_average_precision"]) == 0.5)
        // ROC AUC: query 0 7/8, query 1 2/3 (a=1 beats d=0.5 and c=0, loses to b=4).
        #expect(abs((Self.number(report, ["overall", "mean_roc_auc"]) ?? -1) - (0.875 + 2.0 / 3) / 2) < 1e-12)
        // c is query 0's only single-owner positive, and query 0 scores it higher (2 vs 0).
        #expect(Self.number(report, ["overall", "identification_recall_at_1"]) == 1)
        #expect(Self.number(report, ["pooled_threshold", "threshold"]) == 1)
        #expect(Self.number(report, ["pooled_threshold", "precision"]) == 0.6)
        let queries = try #require((report as? [String: Any])?["queries"] as? [[String: Any]])
        #expect(queries.count == 2 && Self.number(queries[0], ["failed_images"]) == 1)
        #expect(result.stdout.contains("mean of 2 queries"))
        #expect(result.stdout.contains("contains if score >= 1.0 (next score below: 0.5): precision 0.600, recall 1.000"))
        #expect(result.stdout.contains("1 row(s) have a status other than ok"))

        // Ranked by the inliers column, query 0 is perfect: a=10, c=5 above d=1, b=0.
        let inliers = try RankCLI.run(["evaluate", "--results", path("q0.csv"), "--labels", path("q0.labels.csv"),
                                       "--score-column", "inliers", "--output", path("inliers.json"), "--quiet"], in: folder)
        #expect(inliers.status == 0 && inliers.stdout.isEmpty, "\(inliers.stderr)")
        let byInliers = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("inliers.json")))
        #expect(Self.number(byInliers, ["overall", "mean_average_precision"]) == 1)
        #expect(Self.number(byInliers, ["pooled_threshold", "threshold"]) == 5)
        #expect((byInliers as? [String: Any])?["score_column"] as? String == "inliers")
    }

    @Test func refusesInconsistentInputs() throws {
        let folder = try CLIFixtures.temporaryFolder("evaluate-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeInputs(folder)
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        let missing = try RankCLI.run(["evaluate", "--results", path("q0.csv"), "--labels", path("missing.labels.csv")], in: folder)
        #expect(missing.status == 1 && missing.stderr.contains("has no label for 1 image(s)") && missing.stderr.contains("d.jpg"), "\(missing.stderr)")
        let unpaired = try RankCLI.run(["evaluate", "--results", path("q0.csv"), "--results", path("q1.csv"), "--labels", path("q0.labels.csv")], in: folder)
        #expect(unpaired.status == 2 && unpaired.stderr.contains("one --labels per --results"), "\(unpaired.stderr)")
        let badK = try RankCLI.run(["evaluate", "--results", path("q0.csv"), "--labels", path("q0.labels.csv"), "--k", "1,0"], in: folder)
        #expect(badK.status == 2 && badK.stderr.contains("--k"), "\(badK.stderr)")
        let notResults = try RankCLI.run(["evaluate", "--results", path("q0.labels.csv"), "--labels", path("q0.labels.csv")], in: folder)
        #expect(notResults.status == 1 && notResults.stderr.contains("header"), "\(notResults.stderr)")
    }
}
