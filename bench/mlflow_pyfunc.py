"""mlflow.pyfunc.load_model + first prediction: berth hub vs mlflow server.

usage: mlflow_pyfunc.py BERTH_BIN MODEL_ONNX RUNS

Both servers get the same directory (model.onnx and its MLmodel) through the
same client: uploaded through the artifact proxy (under the model on berth,
under a run on mlflow server, which wants one), made a version, aliased
`champion`. Each timed run is one `load_model` (resolve the
alias, list and download the files into a fresh directory, open the ONNX
session) and one `predict` of 100 rows, in this process with mlflow already
imported, so the figure is what the server and the transfer cost.
"""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

berth, model_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
work = tempfile.mkdtemp(prefix="berth-bench-mlflow-")
procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout}s")


try:
    # berth hub on a fresh embedded project, a publisher+deployer pair of tokens.
    hub_dir = os.path.join(work, "hub")
    os.makedirs(hub_dir)
    subprocess.run([berth, "-C", hub_dir, "init", "-q"], check=True, stdout=subprocess.DEVNULL)
    admin = subprocess.run([berth, "-C", hub_dir, "hub", "init"], check=True, capture_output=True, text=True).stdout.strip()
    hub_port = free_port()
    log = open(os.path.join(work, "hub.log"), "w")
    procs.append(subprocess.Popen([berth, "-C", hub_dir, "hub", "--addr", f"127.0.0.1:{hub_port}"], stderr=log))
    hub_url = f"http://127.0.0.1:{hub_port}"
    wait_http(f"{hub_url}/livez")
    env = dict(os.environ, BERTH_HUB_URL=hub_url, BERTH_TOKEN=admin, XDG_CACHE_HOME=os.path.join(work, "cache"))
    secret = subprocess.run(
        [berth, "token", "create", "--principal", "bench", "--role", "admin", "--json"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    hub_token = re.search(r'"secret":\s*"([^"]+)"', secret).group(1)

    # mlflow server on SQLite, serving its own artifacts.
    ml_port = free_port()
    ml_log = open(os.path.join(work, "mlflow.log"), "w")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(ml_port),
         "--backend-store-uri", f"sqlite:///{work}/mlflow.db", "--artifacts-destination", f"{work}/mlartifacts",
         "--workers", "2"],
        stdout=ml_log, stderr=ml_log,
    ))
    ml_url = f"http://127.0.0.1:{ml_port}"
    wait_http(f"{ml_url}/health", timeout=120)

    import mlflow
    import mlflow.pyfunc
    import numpy as np
    import onnxruntime
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    # The directory both servers get: the ONNX file and the MLmodel that loads it.
    src = os.path.join(work, "model")
    os.makedirs(src)
    shutil.copy(model_file, os.path.join(src, "model.onnx"))
    with open(os.path.join(src, "MLmodel"), "w") as f:
        f.write("artifact_path: model\nflavors:\n  onnx:\n    data: model.onnx\n    providers:\n"
                "    - CPUExecutionProvider\n  python_function:\n    data: model.onnx\n"
                "    loader_module: mlflow.onnx\n    python_version: 3.11.7\n")
    session = onnxruntime.InferenceSession(model_file, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    rows = np.random.default_rng(7).normal(size=(100, inp.shape[1])).astype("float32")

    def point_at(url, token):
        # The client reads the URI set in-process before the environment's.
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        if token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = token
        else:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)

    def register(url, token, name):
        point_at(url, token)
        client = MlflowClient()
        client.create_registered_model(name)
        if token:
            # berth: files uploaded under the model, then made a version.
            get_artifact_repository(f"mlflow-artifacts:/{name}/run-1/model").log_artifacts(src)
            mv = client.create_model_version(name, f"mlflow-artifacts:/{name}/run-1/model")
        else:
            # mlflow server wants the files to belong to a run.
            with mlflow.start_run() as run:
                mlflow.log_artifacts(src, artifact_path="model")
            mv = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.set_registered_model_alias(name, "champion", mv.version)

    def timed(url, token, name):
        point_at(url, token)
        out = []
        for _ in range(runs):
            dst = tempfile.mkdtemp(dir=work)
            start = time.perf_counter()
            m = mlflow.pyfunc.load_model(f"models:/{name}@champion", dst_path=dst)
            pred = m.predict({inp.name: rows})
            out.append(time.perf_counter() - start)
            shutil.rmtree(dst)
        return out, pred, MlflowClient().get_model_version_download_uri(name, "1")

    register(hub_url, hub_token, "bench")
    register(ml_url, None, "bench")
    timed(hub_url, hub_token, "bench")  # warm both once
    timed(ml_url, None, "bench")
    ours, p_ours, src_ours = timed(hub_url, hub_token, "bench")
    theirs, p_theirs, src_theirs = timed(ml_url, None, "bench")
    # Each side was asked of its own server: berth names versions by model, mlflow by run.
    assert src_ours == "mlflow-artifacts:/bench/versions/1" and src_ours != src_theirs, (src_ours, src_theirs)
    for k in p_ours:
        a, b = np.asarray(p_ours[k]), np.asarray(p_theirs[k])
        if a.dtype != object and not np.array_equal(a, b):
            raise SystemExit(f"the two servers' models predict differently on {k}")

    size = os.path.getsize(model_file)
    m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"mlflow.pyfunc.load_model + predict(100 rows), {os.path.basename(model_file)} ({size} bytes), "
          f"median of {runs} runs, servers on loopback, mlflow {mlflow.__version__}")
    print(f"{'server':<34} {'median ms':>10} {'p90 ms':>8} {'vs mlflow server':>17}")
    for label, xs, m in [("mlflow server (SQLite, proxied)", theirs, m_theirs), ("berth hub (SQLite, local store)", ours, m_ours)]:
        p90 = sorted(xs)[int(0.9 * (len(xs) - 1))]
        print(f"{label:<34} {m * 1000:>10.1f} {p90 * 1000:>8.1f} {m_theirs / m:>16.2f}x")
    print("(vs mlflow server: how many times faster than the same client call against mlflow server)")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except Exception:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)
