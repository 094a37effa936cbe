// Ranking evaluation: average precision, ROC AUC, precision/recall at k, the max-F1 threshold,
// identification recall@1 and labels files, against hand-computed values and scikit-learn's.
import Foundation
import Testing
@testable import SuperGlueRanking

@Suite struct RankingMetricsTests {
    static func items(_ pairs: [(Double, Bool)], bins: [String?]? = nil) -> [LabeledScore] {
        pairs.enumerated().map { i, p in LabeledScore(image: "img\(i)", score: p.0, positive: p.1, bin: bins?[i]) }
    }

    @Test func perfectRanking() throws {
        let ranking = Self.items([(0.9, true), (0.8, true), (0.3, false)])
        #expect(RankingEvaluation.averagePrecision(ranking) == 1)
        #expect(RankingEvaluation.rocAUC(ranking) == 1)
        let atK = RankingEvaluation.precisionRecall(ranking, at: [1, 2, 3, 4])
        #expect(atK.map(\.precision) == [1, 1, 2.0 / 3, 0.5])  // beyond the list: still divided by k
        #expect(atK.map(\.recall) == [0.5, 1, 1, 1])
        let t = try #require(RankingEvaluation.bestThreshold(ranking))
        #expect(t.threshold == 0.8 && t.nextScoreBelow == 0.3 && t.precision == 1 && t.recall == 1 && t.f1 == 1)
        #expect(t.truePositives == 2 && t.falsePositives == 0)
    }

    /// Scores a=3 (positive), b=2 (negative), c=2 (positive), d=0 (negative).
    /// AP: threshold 3 gives recall 1/2 at precision 1; threshold 2 adds recall 1/2 at precision 2/3: 1/2 + 1/3 = 5/6.
    /// AUC: a beats b and d (2), c ties b (1/2) and beats d (1): 3.5 of 4 pairs.
    @Test func tiesEnterTogether() throws {
        let ranking = Self.items([(3, true), (2, false), (2, true), (0, false)])
        #expect(abs(try #require(RankingEvaluation.averagePrecision(ranking)) - 5.0 / 6) < 1e-15)
        #expect(RankingEvaluation.rocAUC(ranking) == 0.875)
        // Top 2: a, then one of the tied pair {b, c}: 1/2 expected positive.
        let atK = RankingEvaluation.precisionRecall(ranking, at: [1, 2, 3])
        #expect(atK.map(\.precision) == [1, 0.75, 2.0 / 3])
        #expect(atK.map(\.recall) == [0.5, 0.75, 1])
        // F1 at thresholds 3, 2, 0: 2/3, 0.8, 2/3.
        let t = try #require(RankingEvaluation.bestThreshold(ranking))
        #expect(t.threshold == 2 && t.nextScoreBelow == 0 && abs(t.f1 - 0.8) < 1e-15 && t.truePositives == 2 && t.falsePositives == 1)
        // The order of the input does not matter.
        let shuffled = [ranking[2], ranking[0], ranking[3], ranking[1]]
        #expect(RankingEvaluation.metrics(shuffled) == RankingEvaluation.metrics(ranking))
    }

    @Test func allTiedIsChance() {
        let ranking = Self.items([(1, true), (1, false), (1, false), (1, true)])
        #expect(RankingEvaluation.averagePrecision(ranking) == 0.5)
        #expect(RankingEvaluation.rocAUC(ranking) == 0.5)
        #expect(RankingEvaluation.precisionRecall(ranking, at: [1, 3]).map(\.precision) == [0.5, 0.5])
    }

    @Test func reversedRanking() {
        let ranking = Self.items([(1, false), (0, true)])
        #expect(RankingEvaluation.averagePrecision(ranking) == 0.5)
        #expect(RankingEvaluation.rocAUC(ranking) == 0)
        #expect(RankingEvaluation.precisionRecall(ranking, at: [1]).first?.recall == 0)
    }

    @Test func undefinedValuesAreAbsent() {
        let negativesOnly = Self.items([(1, false), (0, false)])
        #expect(RankingEvaluation.averagePrecision(negativesOnly) == nil)
        #expect(RankingEvaluation.rocAUC(negativesOnly) == nil)
        #expect(RankingEvaluation.bestThreshold(negativesOnly) == nil)
        #expect(RankingEvaluation.precisionRecall(negativesOnly, at: [1]).first == PrecisionRecallAtK(k: 1, precision: 0, recall: nil))
        let positivesOnly = Self.items([(1, true), (0, true)])
        #expect(RankingEvaluation.averagePrecision(positivesOnly) == 1)
        #expect(RankingEvaluation.rocAUC(positivesOnly) == nil)
        #expect(RankingEvaluation.metrics([]).atK.allSatisfy { $0.precision == 0 && $0.recall == nil })
    }

    /// F1 at thresholds 3, 2, 1, 0: 2/3, 1/2, 2/5, 2/3. The higher threshold wins the tie.
    @Test func equalF1PrefersTheHigherThreshold() throws {
        let ranking = Self.items([(3, true), (2, false), (1, false), (0, true)])
        let t = try #require(RankingEvaluation.bestThreshold(ranking))
        #expect(t.threshold == 3 && t.precision == 1 && t.recall == 0.5)
        let decided = RankingEvaluation.decide(ranking, threshold: 1.5)
        #expect(decided.precision == 0.5 && decided.recall == 0.5 && decided.truePositives == 1 && decided.falsePositives == 1)
    }

    /// Query 0 owns x, query 1 owns y; z is a negative of both. x: own 5 vs 2, a win; y: own 3 vs 6, a loss.
    @Test func identificationRecallAtOne() {
        let q0 = [LabeledScore(image: "x", score: 5, positive: true, bin: "easy"), LabeledScore(image: "y", score: 6, positive: false),
                  LabeledScore(image: "z", score: 0, positive: false)]
        var q1 = [LabeledScore(image: "x", score: 2, positive: false), LabeledScore(image: "y", score: 3, positive: true, bin: "hard"),
                  LabeledScore(image: "z", score: 1, positive: false)]
        #expect(RankingEvaluation.identificationRecallAtOne([q0, q1]) == 0.5)
        #expect(RankingEvaluation.identificationRecallAtOne([q0, q1], bin: "easy") == 1)
        #expect(RankingEvaluation.identificationRecallAtOne([q0, q1], bin: "hard") == 0)
        #expect(RankingEvaluation.identificationRecallAtOne([q0]) == nil)
        // A tie at the top between two queries counts one half.
        q1[0].score = 5
        #expect(RankingEvaluation.identificationRecallAtOne([q0, q1]) == 0.25)
    }

    /// Two queries with bins: each bin's ranking is its positives against every negative; the
    /// summaries are means over queries; the pooled threshold sees all scores.
    @Test func reportMeansOverQueriesAndBins() throws {
        let q0 = Self.items([(3, true), (2, false), (2, true), (0, false)], bins: ["easy", nil, "hard", nil])
        let q1 = Self.items([(1, true), (4, false), (0, false), (0.5, false)], bins: ["easy", nil, nil, nil])
        let report = RankingEvaluation.report([.init(results: "a.csv", labels: "a.labels", items: q0),
                                               .init(results: "b.csv", labels: "b.labels", items: q1)], cutoffs: [1, 2])
        #expect(report.queries.map(\.metrics.averagePrecision) == [RankingEvaluation.averagePrecision(q0), 0.5])
        let overall = try #require(report.overall.meanAveragePrecision)
        #expect(abs(overall - (5.0 / 6 + 0.5) / 2) < 1e-15)
        // q0 easy: a=3 against b, d: AP 1. q1 easy: img0=1 against 4, 0, 0.5: AP 1/2.
        #expect(report.bins["easy"]?.meanAveragePrecision == 0.75)
        #expect(report.bins["easy"]?.positives == 2)
        // q0 hard: c=2 ties b=2, above d: AP 1/2; q1 has no hard positive.
        #expect(report.bins["hard"]?.meanAveragePrecision == 0.5)
        #expect(report.queries[1].bins.keys.sorted() == ["easy"])
        #expect(report.bins["hard"]?.atK.first == PrecisionRecallAtK(k: 1, precision: 0.5, recall: 0.5))
        // Pooled: positives 3, 2, 1 among negatives 4, 2, 0.5, 0, 0. F1 at thresholds 3: 0.4 (P 1/2, R 1/3);
        // 2: 4/7 (P 2/4, R 2/3); 1: 0.75 (P 3/5, R 1); 0.5: 2/3; 0: 6/11.
        let pooled = try #require(report.pooledThreshold)
        #expect(pooled.threshold == 1 && pooled.nextScoreBelow == 0.5 && abs(pooled.f1 - 0.75) < 1e-15)
    }

    @Test func matchesScikitLearn() throws {
        let url = FixtureWeights.fixturesDirectory.appendingPathComponent("ranking_metrics/sklearn_cases.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try #require(document["cases"] as? [[String: Any]])
        #expect(cases.count == 24)
        var worstAP = 0.0, worstAUC = 0.0
        for (index, entry) in cases.enumerated() {
            let scores = try #require(entry["scores"] as? [Double])
            let labels = try #require(entry["labels"] as? [Int])
            let ranking = zip(scores, labels).enumerated().map { LabeledScore(image: "\($0.offset)", score: $0.element.0, positive: $0.element.1 == 1) }
            let ap = try #require(RankingEvaluation.averagePrecision(ranking))
            let auc = try #require(RankingEvaluation.rocAUC(ranking))
            let expectedAP = try #require(entry["average_precision"] as? Double)
            let expectedAUC = try #require(entry["roc_auc"] as? Double)
            worstAP = max(worstAP, abs(ap - expectedAP))
            worstAUC = max(worstAUC, abs(auc - expectedAUC))
            // Both sides sum the same terms in a different order: agreement to rounding.
            #expect(abs(ap - expectedAP) < 1e-12, "case \(index): AP \(ap) vs sklearn \(expectedAP)")
            #expect(abs(auc - expectedAUC) < 1e-12, "case \(index): AUC \(auc) vs sklearn \(expectedAUC)")
        }
        print("sklearn cases: max |AP difference| \(worstAP), max |ROC AUC difference| \(worstAUC) (tolerance 1e-12: summation order)")
    }
}

@Suite struct RankingLabelsTests {
    static func write(_ text: String, _ folder: TemporaryFolder, _ name: String = "labels.csv") throws -> URL {
        let url = folder.path(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func readsColumnsInAnyOrder() throws {
        let folder = try TemporaryFolder("labels")
        defer { folder.cleanup() }
        let url = try Self.write("bin,note,label,image\nhard,x,1,a.jpg\n,,0,\"b,c.jpg\"\r\n\neasy,y,1,sub/d.png", folder)
        let labels = try RankingLabels.read(url)
        #expect(labels == ["a.jpg": RankingLabel(positive: true, bin: "hard"), "b,c.jpg": RankingLabel(positive: false, bin: nil),
                           "sub/d.png": RankingLabel(positive: true, bin: "easy")])
    }

    @Test func rejectsMalformedFiles() throws {
        let folder = try TemporaryFolder("labels-bad")
        defer { folder.cleanup() }
        let cases = [("image,positive\na.jpg,1\n", "expected columns image and label"),
                     ("image,label\na.jpg,yes\n", "is not 1 or 0"),
                     ("image,label\na.jpg,1\na.jpg,0\n", "labeled twice"),
                     ("image,label\na.jpg\n", "expected 2 fields"),
                     ("", "empty file")]
        for (text, message) in cases {
            let url = try Self.write(text, folder)
            #expect { try RankingLabels.read(url) } throws: { "\($0)".contains(message) }
        }
    }

    @Test func joinRequiresOneLabelPerRow() throws {
        let rows = try [["2.5", "a.jpg", "3", "2", "0.6667", "10", "ok", "0.1"], ["0", "b.jpg", "0", "0", "0.0000", "0", "unreadable", "0"]]
            .map { try RankingResultRow(fields: $0, location: "test") }
        let labels = ["a.jpg": RankingLabel(positive: true, bin: nil), "b.jpg": RankingLabel(positive: false, bin: nil)]
        let byInliers = try RankingLabels.join(rows, labels: labels, column: .inliers, resultsName: "r", labelsName: "l")
        #expect(byInliers == [LabeledScore(image: "a.jpg", score: 2, positive: true), LabeledScore(image: "b.jpg", score: 0, positive: false)])
        #expect(try RankingLabels.join(rows, labels: labels, column: .score, resultsName: "r", labelsName: "l").first?.score == 2.5)
        #expect { try RankingLabels.join(rows, labels: ["a.jpg": labels["a.jpg"]!], column: .score, resultsName: "r", labelsName: "l") }
            throws: { "\($0)".contains("no label for 1 image(s) of r, e.g. b.jpg") }
        var more = labels
        more["c.jpg"] = RankingLabel(positive: true, bin: nil)
        #expect { try RankingLabels.join(rows, labels: more, column: .score, resultsName: "r", labelsName: "l") }
            throws: { "\($0)".contains("r has no row for 1 labeled image(s) of l, e.g. c.jpg") }
    }
}
