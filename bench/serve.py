"""Serving benchmark: berth serve against FastAPI + uvicorn + scikit-learn
(the seeds' stack, best configuration: bench/serve_fastapi.py) and a bare
hyper server answering a constant (the HTTP floor), one at a time on the
same machine.

Subjects: a 10-feature logistic regression and a 100-tree random forest,
trained on the same synthetic data by berth and by scikit-learn. Load: wrk,
2 threads, 64 connections, 10 s after a 2 s warm-up, one row per request
(bench/serve.lua). Then cold start: process start to ready (/readyz 200)
for a random forest of about COLD_START_MB, each side's file grown to that
size.

    python serve.py BERTH HTTP_FLOOR [COLD_START_MB=100]

A berth without `serve`, or a missing floor binary, is skipped with a note;
the FastAPI rows run regardless.
"""
import atexit, importlib.util, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile
import urllib.error, urllib.request

import httpbench
from httpbench import free_port, stop

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

berth, floor = sys.argv[1], sys.argv[2]
cold_mb = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
here = os.path.dirname(os.path.abspath(__file__))
lua = os.path.join(here, "serve.lua")
body = re.search(r"wrk\.body\s*=\s*'(.*)'", open(lua).read()).group(1)  # the row wrk sends
work = tempfile.mkdtemp(prefix="berth-serve-bench-")
atexit.register(shutil.rmtree, work, True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server running and clean up
features = [f"f{i}" for i in range(10)]
workers = os.cpu_count() or 2  # uvicorn workers under load: one per core, the peer's best
GOALS = {"vs_fastapi": 15.0, "p99_ms": 5.0, "vs_floor": 0.70}


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def start(cmd, port, env=None, cwd=None, ready="/readyz", limit=300.0):
    return httpbench.start(cmd, port, work, env, cwd, ready, limit)


def load(port):
    return httpbench.load(port, lua)


def check(port):
    """One request before load: 200 and a `predictions` list; returns the first label."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        code, answer = r.status, json.loads(r.read())
    if code != 200 or not answer.get("predictions"):
        raise SystemExit(f"bad /predict answer on port {port}: {code} {answer}")
    return str(answer["predictions"][0])


def uvicorn(port, workers):
    fast = ["--loop", "uvloop"] if importlib.util.find_spec("uvloop") else []
    fast += ["--http", "httptools"] if importlib.util.find_spec("httptools") else []
    return [sys.executable, "-m", "uvicorn", "serve_fastapi:app", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--log-level", "warning", *fast]


def fastapi(model, port, workers):
    return start(uvicorn(port, workers), port, env={"BERTH_BENCH_MODEL": model, "PYTHONDONTWRITEBYTECODE": "1"},
                 cwd=here)


def berth_serve(model, port):
    return start([berth, "serve", "--model", model, "--addr", f"127.0.0.1:{port}", "-q"], port)


def berth_train(data, out, algo, *sets):
    sh(berth, "train", "--data", data, "--model-type", "classification", "--algorithm", algo, "--target", "target",
       "--features", ",".join(features), "--seed", "7", "-o", out, "-q", *[a for s in sets for a in ("--set", s)])
    return os.path.join(work, out, "model.berth")


def sk_fit(model, data):
    d = pd.read_csv(os.path.join(work, data))
    model.fit(d[features].to_numpy(), d["target"].to_numpy())
    if hasattr(model, "n_jobs"):
        model.n_jobs = None  # trained on every core; served one process per core
    return model


has_serve = subprocess.run([berth, "serve", "--help"], capture_output=True).returncode == 0
if not has_serve:
    print(f"(skipping berth rows: {berth} has no `serve` command)")
has_floor = os.path.isfile(floor) and os.access(floor, os.X_OK)
if not has_floor:
    print(f"(skipping the floor: no binary at {floor}; "
          "cargo build --release -p berth-serve --example http_floor)")

# Data and models: the same rows for both sides.
sh(berth, "data", "synth", "--kind", "classification", "--rows", "20000", "--seed", "7", "-o", "train.csv")
models = {}
for name, algo, sets, sk in [
    ("logistic regression", "logistic_regression", [], LogisticRegression(max_iter=1000)),
    ("random forest, 100 trees", "random_forest", ["n_estimators=100"],
     RandomForestClassifier(n_estimators=100, random_state=7, n_jobs=-1)),
]:
    short = "lr" if algo.startswith("logistic") else "rf"
    skl = os.path.join(work, f"{short}.joblib")
    joblib.dump(sk_fit(sk, "train.csv"), skl)
    models[name] = (berth_train("train.csv", short, algo, *sets) if has_serve else None, skl)

# Load: one server at a time.
results = []  # (model, contender, result)
floor_result = None
if has_floor:
    port = free_port()
    p, _ = start([floor, "--addr", f"127.0.0.1:{port}"], port, ready="/")
    try:
        floor_result = load(port)
    finally:
        stop(p)
for name, (berth_model, skl) in models.items():
    labels = {}
    for contender, launch in [
        ("berth serve", (lambda port: berth_serve(berth_model, port)) if has_serve else None),
        (f"FastAPI + uvicorn, {workers} workers", lambda port: fastapi(skl, port, workers)),
    ]:
        if launch is None:
            continue
        port = free_port()
        p, _ = launch(port)
        try:
            labels[contender] = check(port)
            if name.startswith("logistic") and len(set(labels.values())) > 1:
                raise SystemExit(f"logistic regression: the servers disagree on the sample row: {labels}")
            results.append((name, contender, load(port)))
        finally:
            stop(p)

print("\n1 row per request; wrk -t2 -c64 -d10s --timeout 10s --latency after a 2 s warm-up,"
      " on the same cores as the server\n")
print("| model | contender | req/s | p50 ms | p99 ms | vs FastAPI | vs floor | errors |")
print("|---|---|---|---|---|---|---|---|")
for name in models:
    fast = next(r for m, c, r in results if m == name and c.startswith("FastAPI"))
    for m, c, r in results:
        if m == name:
            vs_floor = f"{r['rps'] / floor_result['rps']:.0%}" if floor_result else "-"
            errs = r["non2xx"] + sum(int(n) for n in re.findall(r"\d+", r["socket_errors"]))
            print(f"| {m} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                  f"{r['rps'] / fast['rps']:.1f}x | {vs_floor} | {errs} |")
if floor_result:
    r = floor_result
    print(f"| (none) | bare hyper, constant answer | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | | 100% | "
          f"{r['non2xx']} |")
for m, c, r in results:
    if c == "berth serve":
        fast = next(x for mm, cc, x in results if mm == m and cc.startswith("FastAPI"))
        goals = [f"{r['rps'] / fast['rps']:.1f}x FastAPI (goal {GOALS['vs_fastapi']:.0f}x)",
                 f"p99 {r['p99']:.2f} ms (goal <= {GOALS['p99_ms']:.0f})"]
        met = r["rps"] / fast["rps"] >= GOALS["vs_fastapi"] and r["p99"] <= GOALS["p99_ms"]
        if floor_result:
            goals.append(f"{r['rps'] / floor_result['rps']:.0%} of floor (goal {GOALS['vs_floor']:.0%})")
            met = met and r["rps"] / floor_result["rps"] >= GOALS["vs_floor"]
        print(f"goals, {m}: {'met' if met else 'MISSED'}: " + ", ".join(goals))
busy = max([r["busy_before"] for _, _, r in results] + ([floor_result["busy_before"]] if floor_result else []))
if busy > 0.2:
    print(f"note: something else was running: up to {busy:.0%} of the cores busy just before a measured run")


# Cold start: a random forest on more rows, each side's file grown to about cold_mb.
def grow(fit, probe):
    """fit(n_trees) -> path; probes with `probe` trees, then fits enough trees for cold_mb."""
    per_tree = os.path.getsize(fit(probe)) / probe
    trees = max(1, round(cold_mb * 1e6 / per_tree))
    return fit(trees), trees


def fit_berth(n):
    return berth_train("big.csv", f"big-{n}", "random_forest", f"n_estimators={n}")


def fit_sklearn(n):
    path = os.path.join(work, f"big-{n}.joblib")
    joblib.dump(sk_fit(RandomForestClassifier(n_estimators=n, random_state=7, n_jobs=-1), "big.csv"), path)
    return path


def cold(launch, runs=5):
    """Median seconds from spawn to /readyz 200; the last run also answers one /predict."""
    times = []
    for i in range(runs):
        port = free_port()
        p, secs = launch(port)
        try:
            if i == runs - 1:
                check(port)
        finally:
            stop(p)
        times.append(secs)
    return statistics.median(times)


sh(berth, "data", "synth", "--kind", "classification", "--rows", "100000", "--seed", "3", "-o", "big.csv")
cold_rows = []
if has_serve:
    path, trees = grow(fit_berth, 10)
    cold_rows.append(("berth serve", "model.berth", trees, path, cold(lambda port: berth_serve(path, port))))
skl_path, skl_trees = grow(fit_sklearn, 4)
# One uvicorn worker: the peer's quickest start (no supervisor spawning workers that each load the model).
cold_rows.append(("FastAPI + uvicorn, 1 worker", "joblib", skl_trees, skl_path,
                  cold(lambda port: fastapi(skl_path, port, 1))))
print(f"\ncold start: process start to /readyz 200, median of 5; random forest classifier on 100,000 rows, "
      f"file grown to about {cold_mb:.0f} MB\n")
print("| contender | file | trees | MB | seconds |")
print("|---|---|---|---|---|")
for contender, kind, trees, path, secs in cold_rows:
    print(f"| {contender} | {kind} | {trees} | {os.path.getsize(path) / 1e6:.0f} | {secs:.2f} |")
