"""Serving benchmark: berth serve against FastAPI + uvicorn + scikit-learn
(the seeds' stack, best configuration) and a bare hyper server answering a
constant (the HTTP floor), one at a time on the same machine.

Subjects: a 10-feature logistic regression and a 100-tree random forest,
trained on the same synthetic data by berth and by scikit-learn. Load: wrk,
64 connections, 2 threads, 10 s after a 2 s warm-up, one row per request.
Then cold start: process start to ready for a ~100 MB model.

    python serve.py BERTH HTTP_FLOOR [COLD_START_MB=100]
"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

berth, floor = sys.argv[1], sys.argv[2]
cold_mb = float(sys.argv[3]) if len(sys.argv) > 3 else 100.0
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp()
features = [f"f{i}" for i in range(10)]
row = {"instances": [{"f0": 0.12, "f1": -0.3, "f2": 0.5, "f3": 1.1, "f4": -0.7, "f5": 0.05, "f6": 0.9,
                      "f7": -1.2, "f8": 0.33, "f9": -0.08}]}


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=1.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status
    except Exception:
        return 0


def start(cmd, port, ready_path, env=None, cwd=None, limit=300.0):
    """Starts a server; returns (process, seconds from spawn to ready)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd or work, env={**os.environ, **(env or {})},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while get(port, ready_path) != 200:
        if p.poll() is not None or time.perf_counter() - t > limit:
            p.kill()
            raise SystemExit(f"{cmd[0]} did not become ready")
        time.sleep(0.005)
    return p, time.perf_counter() - t


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def check(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=json.dumps(row).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.loads(r.read())
    assert r.status == 200 and "predictions" in body, body
    return body["predictions"][0]


def ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def load(port):
    url = f"http://127.0.0.1:{port}/predict"
    lua = os.path.join(here, "serve.lua")
    subprocess.run(["wrk", "-t2", "-c64", "-d2s", "-s", lua, url], check=True, capture_output=True)
    out = subprocess.run(["wrk", "-t2", "-c64", "-d10s", "--latency", "-s", lua, url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": ms(*p50.groups()), "p99": ms(*p99.groups()),
            "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


# Data and models: the same rows for both sides.
sh(berth, "data", "synth", "--kind", "classification", "--rows", "20000", "--seed", "7", "-o", "train.csv")
train = pd.read_csv(os.path.join(work, "train.csv"))
X, y = train[features].to_numpy(), train["target"]
for name, algo, extra, sk in [
    ("logistic regression", "logistic_regression", [], LogisticRegression(max_iter=1000)),
    ("random forest (100 trees)", "random_forest", ["--set", "n_estimators=100"],
     RandomForestClassifier(n_estimators=100, random_state=0)),
]:
    short = algo.split("_")[0]
    sh(berth, "train", "--data", "train.csv", "--model-type", "classification", "--algorithm", algo,
       "--target", "target", "--features", ",".join(features), "-o", short, "-q", *extra)
    joblib.dump(sk.fit(X, y), os.path.join(work, f"{short}.joblib"))

contenders = {
    "berth serve": lambda short, port: start(
        [berth, "serve", "--model", f"{short}/model.berth", "--addr", f"127.0.0.1:{port}"], port, "/readyz"),
    "FastAPI + uvicorn (2 workers)": lambda short, port: start(
        [sys.executable, "-m", "uvicorn", "serve_fastapi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"],
        port, "/readyz", env={"BERTH_BENCH_MODEL": os.path.join(work, f"{short}.joblib")}, cwd=here),
}
rows = []
floor_result = None
if os.path.exists(floor):
    port = free_port()
    p, _ = start([floor, "--addr", f"127.0.0.1:{port}"], port, "/")
    floor_result = load(port)
    stop(p)
else:
    print(f"(no HTTP floor binary at {floor}; build it with cargo build --release -p berth-serve --example http_floor)")
for name, short in [("logistic regression", "logistic"), ("random forest (100 trees)", "random")]:
    for contender, launch in contenders.items():
        port = free_port()
        p, _ = launch(short, port)
        try:
            check(port)
            rows.append((name, contender, load(port)))
        finally:
            stop(p)

print(f"\n1 row per request, wrk -t2 -c64 -d10s on the same 2 cores as the server\n")
print("| model | server | req/s | p50 ms | p99 ms | non-2xx | vs FastAPI | vs floor |")
print("|---|---|---|---|---|---|---|---|")
for name in ["logistic regression", "random forest (100 trees)"]:
    fast = next(r for m, c, r in rows if m == name and c.startswith("FastAPI"))
    for m, c, r in rows:
        if m != name:
            continue
        vs_floor = f"{r['rps'] / floor_result['rps']:.0%}" if floor_result else "-"
        print(f"| {m} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} | "
              f"{r['rps'] / fast['rps']:.1f}x | {vs_floor} |")
if floor_result:
    r = floor_result
    print(f"| (none) | bare hyper, constant answer | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
          f"{r['non2xx']} | | 100% |")

# Cold start: a random forest regressor grown until its file is about cold_mb.
sh(berth, "data", "synth", "--kind", "regression", "--rows", "50000", "--seed", "3", "-o", "big.csv")
probe = 10
sh(berth, "train", "--data", "big.csv", "--model-type", "regression", "--algorithm", "random_forest",
   "--set", f"n_estimators={probe}", "--target", "target", "-o", "probe", "-q")
per_tree = os.path.getsize(os.path.join(work, "probe", "model.berth")) / probe
trees = max(1, round(cold_mb * 1e6 / per_tree))
sh(berth, "train", "--data", "big.csv", "--model-type", "regression", "--algorithm", "random_forest",
   "--set", f"n_estimators={trees}", "--target", "target", "-o", "big", "-q")
size = os.path.getsize(os.path.join(work, "big", "model.berth")) / 1e6
big = pd.read_csv(os.path.join(work, "big.csv"))
bx = big[[c for c in big.columns if c != "target"]].select_dtypes("number").to_numpy()
skl = RandomForestRegressor(n_estimators=trees, random_state=0).fit(bx, big["target"])
joblib.dump(skl, os.path.join(work, "big.joblib"))
skl_size = os.path.getsize(os.path.join(work, "big.joblib")) / 1e6
cold = []
for contender, cmd, env, cwd in [
    ("berth serve", lambda port: [berth, "serve", "--model", "big/model.berth", "--addr", f"127.0.0.1:{port}"], None, None),
    ("FastAPI + uvicorn (1 worker)", lambda port: [
        sys.executable, "-m", "uvicorn", "serve_fastapi:app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning"], {"BERTH_BENCH_MODEL": os.path.join(work, "big.joblib")}, here),
]:
    times = []
    for _ in range(3):
        port = free_port()
        p, secs = start(cmd(port), port, "/readyz", env=env, cwd=cwd)
        stop(p)
        times.append(secs)
    cold.append((contender, min(times)))
print(f"\ncold start, process start to ready (best of 3): random forest regressor, {trees} trees")
print("| server | model file MB | seconds |")
print("|---|---|---|")
print(f"| {cold[0][0]} | {size:.0f} (model.berth) | {cold[0][1]:.2f} |")
print(f"| {cold[1][0]} | {skl_size:.0f} (joblib) | {cold[1][1]:.2f} |")
