"""Hub benchmark: `berth hub` beside `mlflow server` (its basic-auth app on),
each on SQLite and on PostgreSQL, one after another on this machine, over
HTTP with authentication on both sides.

Workloads, at 1 and at 16 concurrent clients:
  create   - a new version of a model (berth: begin an upload of a manifest
             whose blobs the store has, then commit: two requests; MLflow:
             model-versions/create: one)
  alias    - resolve the model's `champion` alias (wrk)
  search   - the newest 100 versions of a model with VERSIONS versions (wrk)
Creates run from Python threads for SECONDS each (the client is the same for
both); lookups and searches under wrk for 10 s after a 2 s warm-up.

    python hub.py BERTH [VERSIONS=10000] [MLFLOW_VERSIONS=1000]

MLflow with its auth app creates a few versions a second here, so its model holds
MLFLOW_VERSIONS versions, not VERSIONS: its search runs on the smaller
model, which favours it.
"""
import atexit, base64, http.client, json, os, re, shutil, signal, subprocess, sys, tempfile, threading, time

import httpbench
from httpbench import free_port, stop

berth = sys.argv[1]
versions = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
mlflow_versions = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
SECONDS = 8
here = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="berth-hub-bench-")
atexit.register(shutil.rmtree, work, True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
venv_bin = os.path.dirname(sys.executable)
MANIFEST_TYPE = "application/vnd.berth.manifest.v1+json"


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def pg_database():
    name = f"hub_bench_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    psql(f"CREATE DATABASE {name}")
    atexit.register(psql, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


class Refused(Exception):
    """A server answered an error."""


class Client:
    """One kept-alive HTTP/1.1 connection with an Authorization header."""

    def __init__(self, port, auth):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.auth = auth

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": self.auth, "Content-Type": "application/json"}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise Refused(f"{method} {path}: the connection failed: {e}") from e
        if r.status >= 300:
            raise Refused(f"{method} {path} answered {r.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None


def timed_creates(make_client, create, clients):
    """Runs `create(client)` from `clients` threads for SECONDS; returns creates/s (those that
    succeeded), p99 ms and how many the server refused (SQLite's lock, for one)."""
    lat, lock, stop_at, errors = [], threading.Lock(), time.perf_counter() + SECONDS, [0]

    def worker():
        c, mine, bad = make_client(), [], 0
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            try:
                create(c)
                mine.append(time.perf_counter() - t)
            except Refused:
                bad += 1
                c = make_client()
        with lock:
            lat.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    lat.sort()
    return {"rps": len(lat) / wall, "p99": lat[round((len(lat) - 1) * 0.99)] * 1e3, "errors": errors[0]}


def wrk(port, path, auth, clients):
    lua = os.path.join(work, "get.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "GET"\n')
    threads = 1 if clients == 1 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{clients}", "--timeout", "10s", "-H", f"Authorization: {auth}", "--latency"]
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run([*cmd, "-d2s", url], check=True, capture_output=True)
    out = subprocess.run([*cmd, "-d10s", url], check=True, capture_output=True, text=True).stdout
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} answers were not 2xx:\n{out}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p99": httpbench.ms(*p99.groups()),
            "errors": 0}


def parallel(n, clients, make_client, create):
    """Makes `n` versions from `clients` threads (population, not measured); a refused
    create is retried."""
    left, lock = [n], threading.Lock()

    def worker():
        c = make_client()
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            for attempt in range(20):
                try:
                    create(c)
                    break
                except Refused:
                    if attempt == 19:
                        raise
                    c = make_client()

    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def run_berth(engine):
    d = os.path.join(work, f"berth-{engine}")
    os.makedirs(d)
    registry = f"sqlite://{d}/registry.db" if engine == "sqlite" else pg_database().replace("postgresql", "postgres")
    env = {**os.environ, "BERTH_REGISTRY_URL": registry, "BERTH_STORE_URL": f"{d}/store", "BERTH_USER": "admin"}
    env = {k: v for k, v in env.items() if k not in ("BERTH_HUB_URL", "BERTH_TOKEN")}
    admin = subprocess.run([berth, "hub", "init"], cwd=d, env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    port = free_port()
    p, _ = httpbench.start([berth, "hub", "--addr", f"127.0.0.1:{port}"], port, work, env=env, cwd=d, ready="/readyz")
    try:
        auth = f"Bearer {admin}"
        mk = lambda: Client(port, auth)
        # One file in the store, so every create is metadata only, as MLflow's is.
        with open(os.path.join(d, "model.txt"), "w") as f:
            f.write("model")
        hub_env = {**env, "BERTH_HUB_URL": f"http://127.0.0.1:{port}", "BERTH_TOKEN": admin}
        subprocess.run([berth, "push", "model.txt", "--model", "bench"], cwd=d, env=hub_env, check=True,
                       capture_output=True)
        files = mk().call("GET", "/api/v1/models/bench/versions/1")["files"]
        manifest = {"mediaType": MANIFEST_TYPE, "files": {f["path"]: {"digest": f["digest"], "size": f["size"]} for f in files}}

        def create(c, model="bench"):
            up = c.call("POST", f"/api/v1/models/{model}/uploads", {"manifest": manifest})
            assert not up["missing"], up
            c.call("POST", f"/api/v1/uploads/{up['upload']}/commit", {"model": model, "manifest": manifest})

        parallel(versions - 1, 8, mk, create)
        mk().call("PUT", "/api/v1/models/bench/aliases/champion", {"version": versions // 2})
        out = {}
        for n in (1, 16):
            out[("create", n)] = timed_creates(mk, lambda c: create(c, "fresh"), n)
            out[("alias", n)] = wrk(port, "/api/v1/models/bench/aliases/champion", auth, n)
            out[("search", n)] = wrk(port, "/api/v1/models/bench/versions?limit=100", auth, n)
        return out
    finally:
        stop(p)


def run_mlflow(engine):
    d = os.path.join(work, f"mlflow-{engine}")
    os.makedirs(d)
    store = f"sqlite:///{d}/mlflow.db" if engine == "sqlite" else pg_database()
    port = free_port()
    auth_ini = os.path.join(d, "basic_auth.ini")
    with open(auth_ini, "w") as f:
        f.write(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{d}/basic_auth.db\n"
                "admin_username = admin\nadmin_password = bench-admin-Pw-7f3k\nauthorization_function = "
                "mlflow.server.auth:authenticate_request_basic_auth\n")
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": auth_ini, "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret"}
    cmd = [os.path.join(venv_bin, "mlflow"), "server", "--backend-store-uri", store, "--app-name", "basic-auth",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(os.cpu_count() or 2)]
    p, _ = httpbench.start(cmd, port, work, env=env, cwd=d, ready="/health", limit=600)
    try:
        auth = "Basic " + base64.b64encode(b"admin:bench-admin-Pw-7f3k").decode()
        mk = lambda: Client(port, auth)
        mk().call("POST", "/api/2.0/mlflow/registered-models/create", {"name": "bench"})
        mk().call("POST", "/api/2.0/mlflow/registered-models/create", {"name": "fresh"})

        def create(c, model="bench"):
            c.call("POST", "/api/2.0/mlflow/model-versions/create", {"name": model, "source": "s3://bench-bucket/models/m"})

        parallel(mlflow_versions, 8, mk, create)
        mk().call("POST", "/api/2.0/mlflow/registered-models/alias",
                  {"name": "bench", "alias": "champion", "version": str(mlflow_versions // 2)})
        out = {}
        for n in (1, 16):
            out[("create", n)] = timed_creates(mk, lambda c: create(c, "fresh"), n)
            out[("alias", n)] = wrk(port, "/api/2.0/mlflow/registered-models/alias?name=bench&alias=champion", auth, n)
            out[("search", n)] = wrk(port, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27bench%27"
                                           "&max_results=100", auth, n)
        return out
    finally:
        stop(p)


results = {}
for engine in ("sqlite", "postgres"):
    for name, run in (("berth", run_berth), ("mlflow", run_mlflow)):
        t = time.perf_counter()
        results[(name, engine)] = run(engine)
        shown = {f"{w}@{n}": round(r["rps"], 1) for (w, n), r in results[(name, engine)].items()}
        print(f"{name} on {engine} ({time.perf_counter() - t:.0f} s): {shown}", file=sys.stderr, flush=True)

print(f"\nberth hub vs mlflow server {subprocess.run([os.path.join(venv_bin, 'mlflow'), '--version'], capture_output=True, text=True).stdout.strip()}"
      f" (auth on both), {os.cpu_count()} cores; berth model: {versions} versions, MLflow's: {mlflow_versions}")
print(f"{'backend':<9} {'workload':<8} {'clients':>7} {'berth/s':>10} {'p99 ms':>8} {'mlflow/s':>9} {'p99 ms':>8} {'refused':>8} {'ratio':>8}")
for engine in ("sqlite", "postgres"):
    b, m = results[("berth", engine)], results[("mlflow", engine)]
    for key in b:
        w, n = key
        print(f"{engine:<9} {w:<8} {n:>7} {b[key]['rps']:>10.0f} {b[key]['p99']:>8.2f} {m[key]['rps']:>9.1f} "
              f"{m[key]['p99']:>8.1f} {b[key]['errors'] + m[key]['errors']:>8} {b[key]['rps'] / m[key]['rps']:>7.1f}x")
