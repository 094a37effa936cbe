// Quality of a ranking against known answers: which ranked images really contain the query.
//
// Definitions (scores are "higher = more likely to contain the query"):
// - Average precision is the step-wise sum AP = Σ (R_n − R_{n−1}) · P_n over the distinct score
//   values taken as thresholds, highest first (no interpolation); images with equal scores enter
//   the ranking together at one threshold. This is scikit-learn's `average_precision_score`.
// - ROC AUC is the trapezoidal area under (false positive rate, true positive rate) over the same
//   thresholds, i.e. the probability that a random positive scores above a random negative, ties
//   counting one half. This is scikit-learn's `roc_auc_score`.
// - Precision and recall at k count the positives among the first k images. Where a group of
//   tied scores straddles position k, the count is its expected value when the tied images are
//   ordered at random (so it depends neither on image names nor on processing order).
// - The decision "contains" is `score >= threshold`. The suggested threshold is the candidate
//   (one of the observed scores) with the highest F1 = 2PR / (P + R); among equal F1 the higher
//   threshold (fewer false positives) wins.
import Foundation

/// One ranked image with its ground truth.
public struct LabeledScore: Sendable, Equatable {
    public var image: String
    public var score: Double
    public var positive: Bool
    /// Optional group of the image, e.g. a difficulty bin of the benchmark.
    public var bin: String?

    public init(image: String, score: Double, positive: Bool, bin: String? = nil) {
        self.image = image
        self.score = score
        self.positive = positive
        self.bin = bin
    }
}

/// Precision and recall among the first `k` ranked images.
public struct PrecisionRecallAtK: Sendable, Equatable, Codable {
    public var k: Int
    public var precision: Double
    public var recall: Double?
}

/// A yes/no decision `score >= threshold` and how well it does.
public struct ThresholdChoice: Sendable, Equatable, Codable {
    /// Decide "contains" when the score is at least this.
    public var threshold: Double
    /// The next lower observed score (any threshold in `(nextScoreBelow, threshold]` decides the
    /// same); absent when no image scores below.
    public var nextScoreBelow: Double?
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var truePositives: Int
    public var falsePositives: Int

    enum CodingKeys: String, CodingKey {
        case threshold, precision, recall, f1
        case nextScoreBelow = "next_score_below"
        case truePositives = "true_positives"
        case falsePositives = "false_positives"
    }
}

/// Every measure of one ranking; the optional values are absent where undefined (AP and recall
/// without positives, ROC AUC without positives or negatives).
public struct RankingMetrics: Sendable, Equatable, Codable {
    public var images: Int
    public var positives: Int
    public var negatives: Int
    public var averagePrecision: Double?
    public var rocAUC: Double?
    public var atK: [PrecisionRecallAtK]
    /// The max-F1 threshold; absent without positives.
    public var bestThreshold: ThresholdChoice?

    enum CodingKeys: String, CodingKey {
        case images, positives, negatives
        case averagePrecision = "average_precision"
        case rocAUC = "roc_auc"
        case atK = "at_k"
        case bestThreshold = "best_threshold"
    }
}

public enum RankingEvaluation {
    /// The default cut-offs of precision and recall at k.
    public static let defaultCutoffs = [1, 5, 10, 20, 50]

    /// Images grouped by equal score, highest score first: (score, images in the group, positives in it).
    static func tieGroups(_ items: [LabeledScore]) -> [(score: Double, count: Int, positives: Int)] {
        let sorted = items.sorted { $0.score > $1.score }
        var groups: [(score: Double, count: Int, positives: Int)] = []
        for item in sorted {
            if let last = groups.last, last.score == item.score {
                groups[groups.count - 1].count += 1
                groups[groups.count - 1].positives += item.positive ? 1 : 0
            } else {
                groups.append((item.score, 1, item.positive ? 1 : 0))
            }
        }
        return groups
    }

    /// Step-wise average precision (scikit-learn's definition; ties enter together); `nil` without positives.
    public static func averagePrecision(_ items: [LabeledScore]) -> Double? {
        let positives = items.filter(\.positive).count
        guard positives > 0 else { return nil }
        var truePositives = 0, seen = 0
        var sum = 0.0
        for group in tieGroups(items) {
            seen += group.count
            guard group.positives > 0 else { continue }
            truePositives += group.positives
            // Recall rises by positives/P at this threshold; precision there covers the whole group.
            sum += Double(group.positives) / Double(positives) * (Double(truePositives) / Double(seen))
        }
        return sum
    }

    /// Area under the ROC curve (trapezoids over tie groups); `nil` without positives or negatives.
    public static func rocAUC(_ items: [LabeledScore]) -> Double? {
        let positives = items.filter(\.positive).count
        let negatives = items.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        // Each positive beats every negative below its group and ties half of those in it.
        var negativesAbove = 0
        var wins = 0.0
        for group in tieGroups(items) {
            let groupNegatives = group.count - group.positives
            wins += Double(group.positives) * (Double(negatives - negativesAbove - groupNegatives) + 0.5 * Double(groupNegatives))
            negativesAbove += groupNegatives
        }
        return wins / (Double(positives) * Double(negatives))
    }

    /// Expected positives among the first `k` images, tied groups ordered at random.
    static func expectedPositives(inTop k: Int, groups: [(score: Double, count: Int, positives: Int)]) -> Double {
        var remaining = k
        var found = 0.0
        for group in groups where remaining > 0 {
            let taken = min(remaining, group.count)
            found += Double(group.positives) * Double(taken) / Double(group.count)
            remaining -= taken
        }
        return found
    }

    /// Precision and recall at each cut-off (k beyond the list counts the whole list, precision
    /// still dividing by k).
    public static func precisionRecall(_ items: [LabeledScore], at cutoffs: [Int]) -> [PrecisionRecallAtK] {
        let groups = tieGroups(items)
        let positives = items.filter(\.positive).count
        return cutoffs.filter { $0 > 0 }.map { k in
            let found = expectedPositives(inTop: k, groups: groups)
            return PrecisionRecallAtK(k: k, precision: found / Double(k), recall: positives > 0 ? found / Double(positives) : nil)
        }
    }

    /// The threshold of maximum F1 among the observed scores; `nil` without positives.
    public static func bestThreshold(_ items: [LabeledScore]) -> ThresholdChoice? {
        let positives = items.filter(\.positive).count
        guard positives > 0 else { return nil }
        let groups = tieGroups(items)
        var best: ThresholdChoice?
        var truePositives = 0, accepted = 0
        for (index, group) in groups.enumerated() {
            truePositives += group.positives
            accepted += group.count
            guard truePositives > 0 else { continue }
            let precision = Double(truePositives) / Double(accepted)
            let recall = Double(truePositives) / Double(positives)
            let f1 = 2 * precision * recall / (precision + recall)
            // Strictly greater: on equal F1 the earlier (higher) threshold stays.
            if f1 > (best?.f1 ?? -1) {
                best = ThresholdChoice(threshold: group.score, nextScoreBelow: index + 1 < groups.count ? groups[index + 1].score : nil,
                                       precision: precision, recall: recall, f1: f1,
                                       truePositives: truePositives, falsePositives: accepted - truePositives)
            }
        }
        return best
    }

    /// Precision, recall and F1 of the decision `score >= threshold`.
    public static func decide(_ items: [LabeledScore], threshold: Double) -> (precision: Double?, recall: Double?, truePositives: Int, falsePositives: Int) {
        let accepted = items.filter { $0.score >= threshold }
        let truePositives = accepted.filter(\.positive).count
        let positives = items.filter(\.positive).count
        return (accepted.isEmpty ? nil : Double(truePositives) / Double(accepted.count),
                positives == 0 ? nil : Double(truePositives) / Double(positives),
                truePositives, accepted.count - truePositives)
    }

    /// All measures of one ranking.
    public static func metrics(_ items: [LabeledScore], cutoffs: [Int] = defaultCutoffs) -> RankingMetrics {
        let positives = items.filter(\.positive).count
        return RankingMetrics(images: items.count, positives: positives, negatives: items.count - positives,
                              averagePrecision: averagePrecision(items), rocAUC: rocAUC(items),
                              atK: precisionRecall(items, at: cutoffs), bestThreshold: bestThreshold(items))
    }

    /// The bins of the positives, sorted; each bin's ranking is its positives plus every negative.
    public static func positiveBins(_ items: [LabeledScore]) -> [String] {
        Set(items.filter(\.positive).compactMap(\.bin)).sorted()
    }

    /// The ranking of one bin: the bin's positives and all negatives (whatever their bin).
    public static func restricted(_ items: [LabeledScore], toBin bin: String) -> [LabeledScore] {
        items.filter { !$0.positive || $0.bin == bin }
    }

    /// Identification: each image that is positive for exactly one query counts 1 when that
    /// query's score for it is higher than every other query's (a tie at the top counts 1/n for n
    /// tied queries). Returns the mean over such images, or `nil` when there are none or fewer than
    /// two queries. `rankings[q]` holds query q's labeled scores.
    public static func identificationRecallAtOne(_ rankings: [[LabeledScore]], bin: String? = nil) -> Double? {
        guard rankings.count >= 2 else { return nil }
        var scores: [String: [Double]] = [:]
        var owners: [String: [Int]] = [:]
        var bins: [String: String?] = [:]
        for (q, ranking) in rankings.enumerated() {
            for item in ranking {
                scores[item.image, default: Array(repeating: -.infinity, count: rankings.count)][q] = item.score
                if item.positive {
                    owners[item.image, default: []].append(q)
                    bins[item.image] = item.bin
                }
            }
        }
        var total = 0.0, counted = 0
        for (image, queries) in owners where queries.count == 1 {
            if let bin, bins[image] != .some(bin) { continue }
            guard let row = scores[image] else { continue }
            let own = row[queries[0]]
            guard !row.contains(where: { $0 > own }) else { counted += 1; continue }
            total += 1 / Double(row.filter { $0 == own }.count)
            counted += 1
        }
        return counted == 0 ? nil : total / Double(counted)
    }
}
