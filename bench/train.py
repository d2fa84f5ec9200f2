"""Training benchmark: berth's built-in trainers against scikit-learn on the
same synthetic data (default 100k rows × 20 features, 80/20 split by row).

berth is timed as a whole command (process start, CSV parsing, training,
writing the model); scikit-learn only for `fit` on data already in memory.
Held-out accuracy (classification) and R² (regression) are computed by
scikit-learn for both. Run with bench/train.sh.
"""
import json, os, subprocess, sys, tempfile, time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

berth, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
work = tempfile.mkdtemp()


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def split(kind):
    path = os.path.join(work, f"{kind}.csv")
    sh(berth, "data", "synth", "--kind", kind, "--rows", str(rows), "--features", str(features), "--seed", "1", "-o", path)
    d = pd.read_csv(path)
    cut = int(len(d) * 0.8)
    d.iloc[:cut].to_csv(os.path.join(work, f"{kind}-train.csv"), index=False)
    d.iloc[cut:].to_csv(os.path.join(work, f"{kind}-test.csv"), index=False)
    return d.iloc[:cut], d.iloc[cut:]


def run_berth(kind, task, algo, test, score):
    out = os.path.join(work, f"m-{kind}-{algo}")
    t = time.perf_counter()
    sh(berth, "train", "--data", f"{kind}-train.csv", "--model-type", task, "--algorithm", algo,
       "--target", "target", "--validation-split", "0", "-o", out, "-q")
    secs = time.perf_counter() - t
    sh(berth, "predict", os.path.join(out, "model.berth"), "--data", f"{kind}-test.csv", "-o", "p.csv", "-q")
    p = pd.read_csv(os.path.join(work, "p.csv"))["prediction"]
    return secs, score(test["target"], p)


def run_sklearn(model, train, test, score):
    X, y = train.drop(columns="target"), train["target"]
    t = time.perf_counter()
    model.fit(X, y)
    secs = time.perf_counter() - t
    return secs, score(test["target"], model.predict(test.drop(columns="target")))


rows_out = []
ctrain, ctest = split("classification")
num = [c for c in ctrain.columns if c.startswith("f")]
pre = lambda: ColumnTransformer([("n", StandardScaler(), num), ("c", OneHotEncoder(handle_unknown="ignore"), ["segment"])])
cases = [
    ("classification", "classification", "logistic_regression", make_pipeline(pre(), LogisticRegression()), accuracy_score, "accuracy"),
    ("classification", "classification", "random_forest", make_pipeline(pre(), RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0)), accuracy_score, "accuracy"),
    ("classification", "classification", "gradient_boosting", make_pipeline(pre(), GradientBoostingClassifier(random_state=0)), accuracy_score, "accuracy"),
]
rtrain, rtest = split("regression")
cases += [
    ("regression", "regression", "ridge", make_pipeline(StandardScaler(), Ridge()), r2_score, "r2"),
    ("regression", "regression", "random_forest", RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0), r2_score, "r2"),
    ("regression", "regression", "gradient_boosting", GradientBoostingRegressor(random_state=0), r2_score, "r2"),
]
print(f"{rows} rows x {features} features, 80/20 split; berth timed as a whole command, scikit-learn as fit() only")
print(f"{'task':<15} {'algorithm':<20} {'berth s':>8} {'sklearn s':>10} {'speed-up':>9} {'metric':>8} {'berth':>7} {'sklearn':>8} {'diff':>7}")
for kind, task, algo, model, score, metric in cases:
    train, test = (ctrain, ctest) if kind == "classification" else (rtrain, rtest)
    bs, bq = run_berth(kind, task, algo, test, score)
    ss, sq = run_sklearn(model, train, test, score)
    print(f"{task:<15} {algo:<20} {bs:>8.2f} {ss:>10.2f} {ss / bs:>8.1f}x {metric:>8} {bq:>7.4f} {sq:>8.4f} {bq - sq:>+7.4f}")
