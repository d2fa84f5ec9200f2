"""Training benchmark: berth's built-in trainers against what users would
train instead (scikit-learn at its defaults, LightGBM 4), on the same
synthetic data (default 100k rows × 20 features, 80/20 split by row), and
a forecast on berth's hourly load data.

berth is timed as a whole command (process start, CSV parsing, training,
writing the model); the peers only for `fit` on data already in memory.
Held-out accuracy (classification) and R² (regression) are computed by
scikit-learn for both. Model size is the file each writes (berth's
model.berth; the peer's joblib dump). Run with bench/train.sh.
"""
import os, subprocess, sys, tempfile, time

import joblib
import lightgbm
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_percentage_error, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

berth, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
work = tempfile.mkdtemp()


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def split(kind, target):
    path = os.path.join(work, f"{kind}.csv")
    sh(berth, "data", "synth", "--kind", kind, "--rows", str(rows), "--features", str(features), "--seed", "1", "-o", path)
    d = pd.read_csv(path)
    cut = int(len(d) * 0.8)
    d.iloc[:cut].to_csv(os.path.join(work, f"{kind}-train.csv"), index=False)
    d.iloc[cut:].to_csv(os.path.join(work, f"{kind}-test.csv"), index=False)
    return d.iloc[:cut], d.iloc[cut:]


def run_berth(kind, task, algo, sets, target, test, score):
    out = os.path.join(work, f"m-{kind}-{algo}-{len(sets)}")
    args = [berth, "train", "--data", f"{kind}-train.csv", "--model-type", task, "--algorithm", algo,
            "--target", target, "--validation-split", "0", "-o", out, "-q", "--force"]
    for s in sets:
        args += ["--set", s]
    t = time.perf_counter()
    sh(*args)
    secs = time.perf_counter() - t
    model = os.path.join(out, "model.berth")
    sh(berth, "predict", model, "--data", f"{kind}-test.csv", "-o", "p.csv", "-q")
    p = pd.read_csv(os.path.join(work, "p.csv"))["prediction"]
    return secs, score(test[target], p), os.path.getsize(model)


def run_peer(model, X, y, Xt, yt, score):
    t = time.perf_counter()
    model.fit(X, y)
    secs = time.perf_counter() - t
    path = os.path.join(work, "peer.joblib")
    joblib.dump(model, path)
    return secs, score(yt, model.predict(Xt)), os.path.getsize(path)


ctrain, ctest = split("classification", "target")
rtrain, rtest = split("regression", "target")
num = [c for c in ctrain.columns if c.startswith("f")]
onehot = lambda: ColumnTransformer([("n", StandardScaler(), num), ("c", OneHotEncoder(handle_unknown="ignore"), ["segment"])])
ordinal = lambda: ColumnTransformer([("n", "passthrough", num), ("c", OrdinalEncoder(), ["segment"])])
lgbm_data = lambda d: d.drop(columns="target").astype({"segment": "category"})

# The forecast: hourly load with a daily cycle. The peers get the hour of
# day as a column (what a user writes with df.timestamp.dt.hour); berth
# reads the timestamp as it is.
fpath = os.path.join(work, "forecast.csv")
sh(berth, "data", "synth", "--kind", "forecast", "--rows", str(rows), "--seed", "1", "-o", fpath)
f = pd.read_csv(fpath, parse_dates=["timestamp"])
cut = int(len(f) * 0.8)
f.iloc[:cut].to_csv(os.path.join(work, "forecast-train.csv"), index=False)
f.iloc[cut:].to_csv(os.path.join(work, "forecast-test.csv"), index=False)
fx = lambda d: pd.DataFrame({"temperature": d.temperature, "humidity": d.humidity, "hour": d.timestamp.dt.hour})
ftrain, ftest = f.iloc[:cut], f.iloc[cut:]

acc, r2 = ("accuracy", accuracy_score), ("r2", r2_score)
C = ("classification", "classification", "target", ctrain, ctest)
R = ("regression", "regression", "target", rtrain, rtest)
F = ("forecast", "forecast", "load", ftrain, ftest)
Xy = lambda tr, te, prep=lambda d: d.drop(columns="target"), y="target": (prep(tr), tr[y], prep(te), te[y])
cases = [
    (C, "logistic_regression", [], "LogisticRegression", make_pipeline(onehot(), LogisticRegression()), Xy(ctrain, ctest), acc),
    (C, "random_forest", [], "RandomForestClassifier", make_pipeline(onehot(), RandomForestClassifier(n_jobs=-1, random_state=0)), Xy(ctrain, ctest), acc),
    (C, "random_forest", ["min_samples_leaf=1"], "RandomForestClassifier", make_pipeline(onehot(), RandomForestClassifier(n_jobs=-1, random_state=0)), Xy(ctrain, ctest), acc),
    (C, "gradient_boosting", [], "GradientBoostingClassifier", make_pipeline(onehot(), GradientBoostingClassifier(random_state=0)), Xy(ctrain, ctest), acc),
    (C, "hist_gradient_boosting", [], "HistGradientBoostingClassifier", make_pipeline(ordinal(), HistGradientBoostingClassifier(categorical_features=[len(num)], random_state=0)), Xy(ctrain, ctest), acc),
    (C, "hist_gradient_boosting", [], "LGBMClassifier", lightgbm.LGBMClassifier(verbose=-1, random_state=0), Xy(ctrain, ctest, lgbm_data), acc),
    (R, "ridge", [], "Ridge", make_pipeline(StandardScaler(), Ridge()), Xy(rtrain, rtest), r2),
    (R, "random_forest", [], "RandomForestRegressor", RandomForestRegressor(n_jobs=-1, random_state=0), Xy(rtrain, rtest), r2),
    (R, "random_forest", ["min_samples_leaf=1"], "RandomForestRegressor", RandomForestRegressor(n_jobs=-1, random_state=0), Xy(rtrain, rtest), r2),
    (R, "gradient_boosting", [], "GradientBoostingRegressor", GradientBoostingRegressor(random_state=0), Xy(rtrain, rtest), r2),
    (R, "hist_gradient_boosting", [], "HistGradientBoostingRegressor", HistGradientBoostingRegressor(random_state=0), Xy(rtrain, rtest), r2),
    (R, "hist_gradient_boosting", [], "LGBMRegressor", lightgbm.LGBMRegressor(verbose=-1, random_state=0), Xy(rtrain, rtest), r2),
    (F, "ridge", [], "Ridge (+hour)", make_pipeline(StandardScaler(), Ridge()), Xy(ftrain, ftest, fx, "load"), r2),
    (F, "hist_gradient_boosting", [], "HistGBRegressor (+hour)", HistGradientBoostingRegressor(random_state=0), Xy(ftrain, ftest, fx, "load"), r2),
    (F, "hist_gradient_boosting", [], "LGBMRegressor (+hour)", lightgbm.LGBMRegressor(verbose=-1, random_state=0), Xy(ftrain, ftest, fx, "load"), r2),
]
print(f"{rows} rows x {features} features, 80/20 split; berth timed as a whole command, the peers as fit() only;")
print("sizes are model.berth and the peer's joblib file")
print(f"{'kind':<15} {'berth algorithm':<34} {'peer':<31} {'berth s':>8} {'peer s':>7} {'speed':>6} "
      f"{'metric':>8} {'berth':>7} {'peer':>7} {'diff':>7} {'berth MB':>9} {'peer MB':>8}")
for (kind, task, target, _, test), algo, sets, peer_name, peer, (X, y, Xt, yt), (metric, score) in cases:
    bs, bq, bsize = run_berth(kind, task, algo, sets, target, test, score)
    ps, pq, psize = run_peer(peer, X, y, Xt, yt, score)
    label = algo + "".join(f" {s}" for s in sets)
    print(f"{kind:<15} {label:<34} {peer_name:<31} {bs:>8.2f} {ps:>7.2f} {ps / bs:>5.2f}x "
          f"{metric:>8} {bq:>7.4f} {pq:>7.4f} {bq - pq:>+7.4f} {bsize / 1e6:>9.2f} {psize / 1e6:>8.2f}", flush=True)
