"""ONNX batch scoring: berth (tract plus berth's ai.onnx.ml operators) against
onnxruntime from Python, on the committed fixtures (4 features), ROWS rows.

Two measurements per model:
- in memory: scoring a float32 matrix already loaded (berth's
  `onnx_throughput` example vs `InferenceSession.run`), rows per second;
- end to end: CSV in, predictions CSV out (`berth predict` as a whole process
  vs pandas.read_csv + onnxruntime + DataFrame.to_csv).
Run with bench/onnx_predict.sh.
"""
import json, os, pathlib, subprocess, sys, tempfile, time

import numpy as np
import onnxruntime as ort
import pandas as pd

release, rows = pathlib.Path(sys.argv[1]), int(sys.argv[2])
fixtures = pathlib.Path(__file__).resolve().parent.parent / "crates/berth-ml/tests/data/onnx"
models = ["logistic_multiclass", "scaler_ridge", "random_forest_multiclass", "random_forest_regressor",
          "gradient_boosting_binary", "xgboost_multiclass", "lightgbm_regressor"]
work = pathlib.Path(tempfile.mkdtemp())
rng = np.random.default_rng(7)
X = (rng.normal(0, 1, (rows, 4)) * [1, 3, 0.5, 2] + [0, 10, -1, 5]).astype(np.float32)
(work / "x.f32").write_bytes(X.astype("<f4").tobytes())
cols = ["f0", "f1", "f2", "f3"]
pd.DataFrame(X, columns=cols).to_csv(work / "x.csv", index=False)


def best(f, n=3):
    return min(f() for _ in range(n))


def berth_memory(name):
    def once():
        out = subprocess.run([release / "examples/onnx_throughput", fixtures / f"{name}.onnx", work / "x.f32", "4"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)["score_s"]
    return best(once)


def ort_memory(sess):
    name = sess.get_inputs()[0].name
    def once():
        t = time.perf_counter()
        sess.run(None, {name: X})
        return time.perf_counter() - t
    return best(once)


def berth_e2e(name):
    def once():
        t = time.perf_counter()
        subprocess.run([release / "berth", "predict", fixtures / f"{name}.onnx", "--data", work / "x.csv",
                        "-o", work / "p.csv", "-q"], check=True)
        return time.perf_counter() - t
    return best(once, 2)


def ort_e2e(name):
    def once():
        t = time.perf_counter()
        sess = ort.InferenceSession(str(fixtures / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        d = pd.read_csv(work / "x.csv")
        out = sess.run(None, {sess.get_inputs()[0].name: d[cols].to_numpy(np.float32)})
        first = out[0] if not isinstance(out[-1], list) else out[0]
        pd.DataFrame({"prediction": np.asarray(first).reshape(len(d), -1)[:, 0]}).to_csv(work / "q.csv", index=False)
        return time.perf_counter() - t
    return best(once, 2)


print(f"{rows:,} rows x 4 features; onnxruntime {ort.__version__}, CPUExecutionProvider, default threads")
print(f"{'model':<26} {'berth Mrow/s':>12} {'ort Mrow/s':>11} {'ratio':>6}   {'berth e2e s':>11} {'pandas+ort s':>12} {'ratio':>6}")
for name in models:
    sess = ort.InferenceSession(str(fixtures / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    bm, om = berth_memory(name), ort_memory(sess)
    be, oe = berth_e2e(name), ort_e2e(name)
    print(f"{name:<26} {rows / bm / 1e6:>12.2f} {rows / om / 1e6:>11.2f} {om / bm:>5.2f}x   {be:>11.2f} {oe:>12.2f} {oe / be:>5.2f}x")
print("ratio > 1: berth faster")
