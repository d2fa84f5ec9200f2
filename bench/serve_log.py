"""What watching live traffic costs a server, as a share of its throughput.

Three configurations of the same `berth serve`, one after another on the same
cores, each measured twice (the better run kept):
- bare: `--drift-window 0`, nothing recorded beyond the counters;
- window: the live drift window (the default, 10,000 rows against the model's
  profile.json, exported at /metrics);
- window + log: also `--prediction-log` with every request logged
  (`--prediction-log-sample 1`), Parquet segments rotated every 60 s.

Two paths: berth's own logistic regression (10 features) over /predict, and
the committed ONNX export of a multiclass logistic regression (4 features)
over the Open Inference Protocol (/v2/models/NAME/infer, one FP32 tensor), the
path a KServe or Triton user takes. One row per request; wrk -t2 -c64, 10 s
after a 2 s warm-up. The goal: the log and window together cost at most 10 %.

    python serve_log.py BERTH
"""
import atexit, json, os, random, shutil, signal, subprocess, sys, tempfile, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpbench
from httpbench import free_port, stop

berth = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
work = tempfile.mkdtemp(prefix="berth-serve-log-bench-")
atexit.register(shutil.rmtree, work, True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
GOAL = 0.10


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def lua(name, path, body):
    at = os.path.join(work, name)
    with open(at, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write(f"wrk.body = '{json.dumps(body)}'\n")
    return at, path


# berth's own model, trained here; profile.json lands beside model.berth.
sh(berth, "data", "synth", "--kind", "classification", "--rows", "20000", "--seed", "7", "-o", "train.csv")
features = [f"f{i}" for i in range(10)]
sh(berth, "train", "--data", "train.csv", "--model-type", "classification", "--algorithm", "logistic_regression",
   "--target", "target", "--features", ",".join(features), "--seed", "7", "-o", "lr", "-q")
row = {f: round(0.1 * (i - 4.5), 2) for i, f in enumerate(features)}
native = ([os.path.join(work, "lr", "model.berth")], lua("predict.lua", "/predict", {"instances": [row]}))

# The ONNX export, beside a profile of data like its training data (4 features).
os.makedirs(os.path.join(work, "onnx"))
shutil.copy(os.path.join(root, "crates/berth-ml/tests/data/onnx/logistic_multiclass.onnx"),
            os.path.join(work, "onnx", "model.onnx"))
with open(os.path.join(work, "x.csv"), "w") as f:
    f.write("f0,f1,f2,f3\n")
    r = random.Random(7)
    for _ in range(5000):
        f.write(f"{r.gauss(0, 1):.4f},{r.gauss(10, 3):.4f},{r.gauss(-1, 0.5):.4f},{r.gauss(5, 2):.4f}\n")
sh(berth, "data", "profile", "x.csv", "-o", os.path.join("onnx", "profile.json"))
onnx_args = [os.path.join(work, "onnx", "model.onnx"), "--features", "f0,f1,f2,f3"]


def serve(model_args, extra):
    port = free_port()
    p, _ = httpbench.start([berth, "serve", "--model", *model_args, "--addr", f"127.0.0.1:{port}", "-q", *extra],
                           port, work)
    return p, port


def oip_body(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/model", timeout=10) as r:
        meta = json.loads(r.read())
    tensor = meta["inputs"][0]
    return {"inputs": [{"name": tensor["name"], "datatype": "FP32", "shape": [1, 4], "data": [0.1, 10.2, -0.9, 5.3]}]}


configs = [
    ("bare", ["--drift-window", "0"]),
    ("window", []),
    ("window + log", ["--prediction-log", "plog", "--prediction-log-sample", "1"]),
]
results = []  # (path, config, result)
for path_name, model_args, script in [
    ("berth model, /predict", native[0], native[1]),
    ("ONNX, OIP /v2/.../infer", onnx_args, None),
]:
    for config, extra in configs:
        best = None
        for _ in range(2):
            shutil.rmtree(os.path.join(work, "plog"), ignore_errors=True)
            p, port = serve(model_args, extra)
            try:
                if script is None:
                    script = lua("oip.lua", "/v2/models/model/infer", oip_body(port))
                r = httpbench.load(port, script[0], script[1])
                if config == "window":
                    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                    if "berth_live_drift_psi{" not in metrics:
                        raise SystemExit(f"{path_name}: no live drift gauges at /metrics:\n{metrics[-3000:]}")
            finally:
                stop(p)
            if best is None or r["rps"] > best["rps"]:
                best = r
        results.append((path_name, config, best))

print("\n1 row per request; wrk -t2 -c64 -d10s --latency after a 2 s warm-up, better of 2 runs,"
      " on the same cores as the server\n")
print("| path | configuration | req/s | p50 ms | p99 ms | vs bare | errors |")
print("|---|---|---|---|---|---|---|")
missed = []
for path_name, config, r in results:
    bare = next(x for p, c, x in results if p == path_name and c == "bare")
    ratio = r["rps"] / bare["rps"]
    errs = r["non2xx"] + (1 if r["socket_errors"] else 0)
    print(f"| {path_name} | {config} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio:.0%} | {errs} |")
    if ratio < 1 - GOAL:
        missed.append(f"{path_name}, {config}: {ratio:.0%} of bare")
print(f"\ngoal: every configuration at least {1 - GOAL:.0%} of bare: " + ("met" if not missed else
      "MISSED (" + "; ".join(missed) + ")"))
busy = max(r["busy_before"] for _, _, r in results)
if busy > 0.2:
    print(f"note: something else was running: up to {busy:.0%} of the cores busy just before a measured run")
