"""`berth monitor` over ROWS logged predictions x 12 features joined with
ROWS labels, beside Evidently 0.7 on the same frames.

The log is what `berth serve --prediction-log` writes: 16 Parquet segments of
predictions (request_id, row, ts, model, version, latency_ms, 11 numeric
features and one categorical, prediction, proba_0, proba_1) and 16 feedback
segments (request_id, row, ts, label), for churn@1, a logistic regression
trained by berth on the same population.

- berth: `berth monitor churn --env production --dry-run` as a whole process:
  reading every segment, joining the labels by request id and row, live
  metrics (accuracy, F1, ROC AUC, log loss, ...), drift of the 12 features
  against the version's stored profile (KS / chi-square, PSI, Wasserstein,
  Jensen-Shannon, Holm), prediction PSI, data quality, latency.
- Evidently: DataDriftPreset + ClassificationPreset on DataFrames already in
  memory (the reference is the training frame), reading and joining not
  counted.
Each runs in its own process; peak memory is that process's max RSS.
"""
import json, os, resource, subprocess, sys, tempfile, time

import numpy as np
import pandas as pd

berth, rows = sys.argv[1], int(sys.argv[2])
SEGMENTS = 16


def run(args, cwd):
    out = subprocess.run([berth, *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"berth {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out


def timed(cmd, cwd=None):
    """Runs `cmd` under a fresh Python process of its own, so that the
    peak RSS is the command's alone; returns seconds, peak MB, stdout."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "out = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "secs = time.perf_counter() - t\n"
        "sys.stderr.write(out.stderr)\n"
        "print(json.dumps({'code': out.returncode, 'secs': secs, 'stdout': out.stdout,\n"
        "    'rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=cwd, capture_output=True, text=True)
    r = json.loads(out.stdout)
    if r["code"] not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({r['code']}):\n{out.stderr}")
    return r["secs"], r["rss_mb"], r["stdout"]


if len(sys.argv) > 3:  # child: Evidently on the frames in DIR
    d = sys.argv[3]
    ref = pd.read_parquet(os.path.join(d, "ref.parquet"))
    cur = pd.read_parquet(os.path.join(d, "cur.parquet"))
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset

    features = [c for c in ref.columns if c not in ("target", "prediction")]
    num = [c for c in features if ref[c].dtype.kind == "f"]
    cat = [c for c in features if c not in num]
    definition = DataDefinition(
        numerical_columns=num,
        categorical_columns=cat,
        classification=[BinaryClassification(target="target", prediction_labels="prediction")],
    )
    t = time.perf_counter()
    r = Dataset.from_pandas(ref, data_definition=definition)
    c = Dataset.from_pandas(cur, data_definition=definition)
    Report([DataDriftPreset(columns=features), ClassificationPreset()]).run(reference_data=r, current_data=c).dict()
    print(json.dumps({"secs": time.perf_counter() - t}))
    sys.exit(0)

work = tempfile.mkdtemp()
proj = os.path.join(work, "project")
os.makedirs(proj)
run(["init"], proj)
run(["data", "synth", "--kind", "classification", "--features", "11", "--rows", "20000", "--seed", "3", "-o", "train.parquet"], proj)
run(["train", "--data", "train.parquet", "--model-type", "classification", "--algorithm", "logistic_regression",
     "--target", "target", "-o", "out", "--push", "churn", "-q"], proj)
run(["alias", "set", "churn", "production", "1"], proj)
run(["data", "synth", "--kind", "classification", "--features", "11", "--rows", str(rows), "--seed", "5", "-o", "live.parquet"], proj)
live = pd.read_parquet(os.path.join(proj, "live.parquet"))
train = pd.read_parquet(os.path.join(proj, "train.parquet"))

rng = np.random.default_rng(7)
now = int(time.time())
truth = live["target"].astype(int).to_numpy()
# A model right on 85% of the rows, with probabilities that agree with its labels.
right = rng.random(rows) < 0.85
predicted = np.where(right, truth, 1 - truth)
p1 = np.clip(np.where(predicted == 1, 0.5 + rng.random(rows) / 2, rng.random(rows) / 2), 0, 1)
ids = np.array([f"req-{i}" for i in range(rows)])
log = pd.DataFrame({
    "request_id": ids,
    "row": np.zeros(rows, dtype=np.int64),
    "ts": pd.to_datetime(np.full(rows, now - 3600), unit="s"),
    "model": "churn",
    "version": "1",
    "latency_ms": rng.gamma(2.0, 0.5, rows),
})
for c in live.columns:
    if c != "target":
        log[c] = live[c]
log["prediction"] = predicted.astype(str)
log["proba_0"] = 1 - p1
log["proba_1"] = p1
plog = os.path.join(proj, "plog")
os.makedirs(os.path.join(plog, "feedback"))
labels = pd.DataFrame({
    "request_id": ids,
    "row": np.zeros(rows, dtype=np.int64),
    "ts": pd.to_datetime(np.full(rows, now), unit="s"),
    "label": truth.astype(str),
    "value": np.full(rows, np.nan),
})
for k, part in enumerate(np.array_split(np.arange(rows), SEGMENTS)):
    log.iloc[part].to_parquet(os.path.join(plog, f"predictions-churn-v1-bench.{k}-{now:012d}-{now:012d}-{k:06d}.parquet"), index=False)
    labels.iloc[part].to_parquet(os.path.join(plog, "feedback", f"feedback-bench.{k}-{now:012d}-{now:012d}-{k:06d}.parquet"), index=False)
size_mb = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(plog) for f in fs) / 1e6
in_memory_mb = (log.memory_usage(deep=False).sum() + labels.memory_usage(deep=False).sum()) / 1e6

b_secs, b_rss, out = timed([berth, "monitor", "churn", "--env", "production", "--log", "plog", "--window", "1d",
                            "--dry-run", "--json"], cwd=proj)
report = json.loads(out)["report"]
assert report["window"]["predictions"] == rows and report["window"]["labelled"] == rows, report["window"]
assert abs(report["metrics"]["accuracy"] - right.mean()) < 1e-12, (report["metrics"]["accuracy"], right.mean())

ref = train.rename(columns={})
ref["prediction"] = ref["target"].astype(int)
ref["target"] = ref["target"].astype(int)
cur = live.copy()
cur["target"] = truth
cur["prediction"] = predicted
frames = os.path.join(work, "frames")
os.makedirs(frames)
ref.to_parquet(os.path.join(frames, "ref.parquet"), index=False)
cur.to_parquet(os.path.join(frames, "cur.parquet"), index=False)
e_wall, e_rss, e_out = timed([sys.executable, __file__, berth, str(rows), frames])
e_secs = json.loads(e_out)["secs"]

print(f"berth monitor: {rows:,} logged predictions x 12 features joined with {rows:,} labels")
print(f"log on disk {size_mb:.0f} MB in {2 * SEGMENTS} Parquet segments; the frames in memory {in_memory_mb:.0f} MB")
print(f"{'tool':<44} {'seconds':>8} {'peak MB':>8} {'vs berth':>9}")
print(f"{'berth monitor (whole process, reading + join)':<44} {b_secs:>8.2f} {b_rss:>8.0f} {1:>8.2f}x")
print(f"{'Evidently DataDrift+Classification (in memory)':<44} {e_secs:>8.2f} {e_rss:>8.0f} {b_secs / e_secs:>8.2f}x")
print("vs berth: berth's seconds / the tool's (below 1: the tool is slower)")
