"""Reference values for berth's metrics, computed with scikit-learn.

Writes crates/berth-gate/tests/data/metrics_reference.json; the Rust tests
compare berth's metrics to these values to 1e-9 relative. Every value is
scikit-learn's own; berth reports MAPE in percent, so the Rust test compares
berth's `mape` with this file's `mape` × 100. Run it again (and commit the
output) when a metric or a case is added:

    python3 scripts/reference_metrics.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import metrics as m
from sklearn.preprocessing import label_binarize

rng = np.random.default_rng(20261124)
cases = []


def clf_case(name, y_true, y_pred, proba=None, labels=None):
    y_true = [int(v) for v in y_true]
    y_pred = [int(v) for v in y_pred]
    exp = {
        "accuracy": m.accuracy_score(y_true, y_pred),
        "balanced_accuracy": m.balanced_accuracy_score(y_true, y_pred),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = m.precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
        exp[f"precision_{avg}"], exp[f"recall_{avg}"], exp[f"f1_{avg}"] = p, r, f
    case = {"name": name, "kind": "classification", "y_true": y_true, "y_pred": y_pred, "expected": exp}
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        case["proba"] = proba.tolist()
        case["labels"] = labels
        exp["log_loss"] = m.log_loss(y_true, proba, labels=labels)
        if len(labels) == 2 and len(set(y_true)) == 2:
            exp["roc_auc"] = m.roc_auc_score(y_true, proba[:, 1])
            exp["pr_auc"] = m.average_precision_score(y_true, proba[:, 1], pos_label=labels[1])
        elif len(labels) > 2 and set(y_true) == set(labels):
            exp["roc_auc"] = m.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels)
            exp["pr_auc"] = m.average_precision_score(label_binarize(y_true, classes=labels), proba, average="macro")
    present = sorted(set(y_true))
    p, r, f, _ = m.precision_recall_fscore_support(y_true, y_pred, labels=present, average=None, zero_division=0)
    for c, pc, rc, fc in zip(present, p, r, f):
        exp[f"precision.{c}"], exp[f"recall.{c}"], exp[f"f1.{c}"] = pc, rc, fc
    all_labels = sorted(set(y_true) | set(y_pred))
    case["confusion_matrix"] = m.confusion_matrix(y_true, y_pred, labels=all_labels).tolist()
    cases.append(case)


def reg_case(name, y_true, y_pred):
    y_true = [float(v) for v in y_true]
    y_pred = [float(v) for v in y_pred]
    exp = {
        "mae": m.mean_absolute_error(y_true, y_pred),
        "mse": m.mean_squared_error(y_true, y_pred),
        "rmse": m.root_mean_squared_error(y_true, y_pred),
        "r2": m.r2_score(y_true, y_pred),
        "max_error": m.max_error(y_true, y_pred),
        "median_absolute_error": m.median_absolute_error(y_true, y_pred),
        # A fraction here; berth's mape is this × 100 (percent).
        "mape": m.mean_absolute_percentage_error(y_true, y_pred),
    }
    cases.append({"name": name, "kind": "regression", "y_true": y_true, "y_pred": y_pred, "expected": exp})


def softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# Binary, balanced, with probabilities (continuous scores: no ties).
n = 500
y = rng.integers(0, 2, n)
score = y * 1.2 + rng.normal(0, 1, n)
p1 = 1 / (1 + np.exp(-score))
clf_case("binary_balanced", y, (p1 > 0.5).astype(int), np.c_[1 - p1, p1], [0, 1])

# Binary with heavily tied scores (rounded to one decimal).
p1t = np.round(p1, 1).clip(0.05, 0.95)
clf_case("binary_tied_scores", y, (p1t > 0.5).astype(int), np.c_[1 - p1t, p1t], [0, 1])

# Multiclass, skewed classes, with probabilities.
n = 800
y = rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05])
z = rng.normal(0, 1, (n, 4))
z[np.arange(n), y] += 1.5
proba = softmax_rows(z)
clf_case("multiclass_skewed", y, proba.argmax(axis=1), proba, [0, 1, 2, 3])

# A class that is never predicted (precision 0 by zero_division) and one never true.
clf_case("unpredicted_and_absent_classes", [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 3, 3])

# Multiclass with tied probabilities (rounded), every class present.
proba_t = np.round(proba, 1)
clf_case("multiclass_tied_scores", y, proba.argmax(axis=1), proba_t / proba_t.sum(axis=1, keepdims=True), [0, 1, 2, 3])

# A single class among the true labels (a split that caught one class):
# no ROC AUC, the rest defined.
clf_case("single_true_class", [1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [[0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9], [0.7, 0.3]], [0, 1])

# Tiny sample.
clf_case("tiny", [1, 0, 1], [1, 1, 1], [[0.2, 0.8], [0.4, 0.6], [0.3, 0.7]], [0, 1])

# Regression.
n = 400
yt = rng.normal(100, 20, n)
reg_case("regression_noisy", yt, yt + rng.normal(0, 5, n))
reg_case("regression_biased", yt, yt * 1.1 - 3)
reg_case("regression_tiny", [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
reg_case("regression_constant_truth_perfect", [2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
reg_case("regression_constant_truth_imperfect", [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
reg_case("regression_with_zero_truth", [0.0, 1.0, 2.0, 4.0], [0.5, 1.0, 1.5, 5.0])
reg_case("regression_even_count_median", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.5, 2.0, 2.0, 5.0, 5.5, 9.0])

out = {"generated_by": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", "cases": cases}
path = pathlib.Path(__file__).resolve().parent.parent / "crates/berth-gate/tests/data/metrics_reference.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {len(cases)} cases to {path}")
