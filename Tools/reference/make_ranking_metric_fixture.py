#!/usr/bin/env python3
"""Reference values of average precision and ROC AUC from scikit-learn, for RankingMetricsTests.

Usage:
  pip install --target /tmp/sklearn-target scikit-learn   # any recent version; 1.9.1 made the committed file
  PYTHONPATH=/tmp/sklearn-target python3 Tools/reference/make_ranking_metric_fixture.py \
      --out Tests/Fixtures/ranking_metrics/sklearn_cases.json

Cases (numpy seed 16): random labels with random scores, some drawn from a few levels so that
ties occur within and across the classes, and sizes from 2 to 60. Each case stores the scores,
the labels and sklearn.metrics.average_precision_score / roc_auc_score of them. The scores are
written with repr() precision, so the tests read exactly the values sklearn saw.
"""
import argparse
import json

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score


def cases(rng):
    out = []
    for index in range(24):
        n = int(rng.integers(2, 61))
        labels = rng.integers(0, 2, n)
        if labels.min() == labels.max():
            labels[0] = 1 - labels[0]
        if index % 3 == 0:
            scores = rng.normal(labels * rng.uniform(0, 2), 1.0)       # continuous, informative
        elif index % 3 == 1:
            scores = rng.integers(0, 4, n).astype(np.float64) + labels * rng.integers(0, 2, n)  # few levels: ties
        else:
            scores = np.round(rng.uniform(0, 1, n), 1)                 # uninformative, ties
        out.append({"scores": [float(s) for s in scores], "labels": [int(v) for v in labels],
                    "average_precision": float(average_precision_score(labels, scores)),
                    "roc_auc": float(roc_auc_score(labels, scores))})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    document = {"generator": "Tools/reference/make_ranking_metric_fixture.py", "sklearn": sklearn.__version__,
                "cases": cases(np.random.default_rng(16))}
    with open(args.out, "w") as f:
        json.dump(document, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
