"""A whole gate, as CI runs it: berth validate against a Python script
equivalent to the seeds' validate_model.py (pandas + scikit-learn + SciPy).

Both load the model and the evaluation data from disk, predict, compute
accuracy and per-class recall, check drift of every feature against the
training data (KS), the coefficient of variation of the predicted-class
probability and the share of predictions beyond 3 sigma, and write a JSON
report. Timed as whole processes; peak RSS from /usr/bin/time.
"""
import json, os, subprocess, sys, tempfile, textwrap, time

berth, rows = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp()


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


sh(berth, "data", "synth", "--kind", "classification", "--rows", str(rows), "--features", "10", "--seed", "1", "-o", "train.csv")
sh(berth, "data", "synth", "--kind", "classification", "--rows", str(rows), "--features", "10", "--seed", "2", "-o", "test.csv")
sh(berth, "train", "--data", "train.csv", "--model-type", "classification", "--algorithm", "logistic_regression",
   "--target", "target", "-o", "model", "-q")
open(os.path.join(work, "gate.toml"), "w").write(textwrap.dedent("""
    [metrics]
    accuracy = { min = 0.6 }
    per_class_recall = { min = 0.5 }
    [drift]
    [stability]
    max_cv = 0.5
    [range]
    sigmas = 3.0
    max_share = 0.05
"""))
script = textwrap.dedent("""
    import json, sys
    import joblib, numpy as np, pandas as pd
    from scipy import stats
    from sklearn.metrics import accuracy_score, recall_score
    model = joblib.load("model.joblib")
    train = pd.read_csv("train.csv")
    test = pd.read_csv("test.csv")
    X, y = test.drop(columns="target"), test["target"]
    proba = model.predict_proba(X)
    pred = model.classes_[proba.argmax(axis=1)]
    checks, errors = {}, []
    acc = accuracy_score(y, pred)
    recall = dict(zip(map(str, model.classes_), recall_score(y, pred, average=None, labels=model.classes_)))
    checks["accuracy"] = acc >= 0.6
    checks["recall"] = all(r >= 0.5 for r in recall.values())
    drifted = [c for c in X.columns if X[c].dtype.kind == "f" and stats.ks_2samp(train[c], X[c]).pvalue < 0.05]
    checks["drift"] = len(drifted) <= 0.5 * X.shape[1]
    top = proba.max(axis=1)
    cv = top.std() / abs(top.mean())
    checks["stability"] = cv <= 0.5
    share = float(np.mean(np.abs(top - top.mean()) > 3 * top.std()))
    checks["range"] = share <= 0.05
    json.dump({"passed": all(checks.values()), "accuracy": acc, "per_class_recall": recall,
               "checks": checks, "errors": errors}, open("report.json", "w"))
""")
open(os.path.join(work, "validate_model.py"), "w").write(script)
# The same model family for Python, trained once (not timed).
import joblib, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
train = pd.read_csv(os.path.join(work, "train.csv"))
X = train.drop(columns="target")
num = [c for c in X.columns if X[c].dtype.kind == "f"]
cat = [c for c in X.columns if c not in num]
pre = ColumnTransformer([("n", StandardScaler(), num), ("c", OneHotEncoder(handle_unknown="ignore"), cat)])
joblib.dump(make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X, train["target"]), os.path.join(work, "model.joblib"))


def timed(*args):
    best = None
    for _ in range(3):
        t = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *args], cwd=work, capture_output=True, text=True)
        secs = time.perf_counter() - t
        if r.returncode not in (0, 1):
            raise SystemExit(r.stderr)
        rss = int(r.stderr.strip().splitlines()[-1]) / 1024
        if best is None or secs < best[0]:
            best = (secs, rss)
    return best


b = timed(berth, "validate", "model/model.berth", "--data", "test.csv", "--gate", "gate.toml", "--report-json", "b.json", "-q")
p = timed(sys.executable, "validate_model.py")
print(f"gate on {rows:,} rows x 11 features: accuracy, per-class recall, KS drift of every feature, stability, range")
print(f"{'':<32} {'seconds':>8} {'peak MB':>8}")
print(f"{'berth validate':<32} {b[0]:>8.2f} {b[1]:>8.0f}")
print(f"{'pandas + scikit-learn + SciPy':<32} {p[0]:>8.2f} {p[1]:>8.0f}")
print(f"berth is {p[0] / b[0]:.1f}x faster")
