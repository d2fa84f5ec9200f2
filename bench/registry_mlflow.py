"""The same registry workload on MLflow's model registry (SQLite backend, in
process, as `mlflow.set_tracking_uri("sqlite:///...")` users run it).
Prints one JSON line per phase, like registry_bench."""
import json, logging, os, sys, tempfile, time, warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow
from mlflow import MlflowClient


def report(phase, lat, wall):
    lat.sort()
    pick = lambda p: lat[round((len(lat) - 1) * p)] * 1e6
    print(json.dumps({"engine": "mlflow-sqlite", "phase": phase, "ops": len(lat),
                      "ops_per_s": round(len(lat) / wall, 1), "p50_us": round(pick(0.5), 1), "p99_us": round(pick(0.99), 1)}))


def main():
    n, m = int(sys.argv[1]), int(sys.argv[2])
    d = tempfile.mkdtemp()
    mlflow.set_tracking_uri(f"sqlite:///{d}/mlflow.db")
    c = MlflowClient()
    c.create_registered_model("bench")
    lat = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        c.create_model_version("bench", f"file://{d}/model", tags={"seed": str(i)})
        lat.append(time.perf_counter() - t)
    report("create_version", lat, time.perf_counter() - start)
    c.set_registered_model_alias("bench", "production", str(max(n // 2, 1)))
    lat = []
    start = time.perf_counter()
    for _ in range(m):
        t = time.perf_counter()
        v = c.get_model_version_by_alias("bench", "production")
        assert int(v.version) == max(n // 2, 1)
        lat.append(time.perf_counter() - t)
    report("resolve_alias", lat, time.perf_counter() - start)


main()
