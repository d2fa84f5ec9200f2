"""Rollout benchmark: what routing, counting and mirroring cost berth serve,
and berth's in-process canary beside what teams run instead — two model
servers behind nginx's weighted split (`split_clients`, keep-alive
upstreams), which splits traffic but analyses nothing.

Subjects: a 10-feature logistic regression pushed twice (churn@1 stable,
churn@2 candidate). Load: wrk, 2 threads, 64 connections, 10 s after a
2 s warm-up, one row per request (bench/serve.lua).

    python rollout.py BERTH
"""
import atexit, json, os, shutil, subprocess, sys, tempfile, urllib.request

import httpbench
from httpbench import free_port, stop

berth = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
lua = os.path.join(here, "serve.lua")
work = tempfile.mkdtemp(prefix="berth-rollout-bench-")
atexit.register(shutil.rmtree, work, True)
features = ",".join(f"f{i}" for i in range(10))


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL)


def admin(port, path, spec=None):
    data = json.dumps(spec).encode() if spec is not None else b""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/rollout{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


sh(berth, "init", "-q")
sh(berth, "data", "synth", "--kind", "classification", "--rows", "20000", "--seed", "1", "-o", "train.csv")
for c in ["1.0", "0.5"]:
    sh(berth, "train", "--data", "train.csv", "--model-type", "classification", "--algorithm", "logistic_regression",
       "--target", "target", "--features", features, "--set", f"C={c}", "-o", f"model-{c}", "--push", "churn", "-q")
sh(berth, "alias", "set", "churn", "production", "1")

results = []
port = free_port()
p, _ = httpbench.start([berth, "serve", "churn@production", "--addr", f"127.0.0.1:{port}", "-q"], port, work)
try:
    results.append(("berth, no rollout", httpbench.load(port, lua)))
    never = {"min_requests": 10**12}  # the canary holds its step for the whole run
    admin(port, "", {"strategy": "canary", "candidate": 2, "steps": [50, 100], "pause_ms": 3_600_000,
                     "thresholds": never})
    results.append(("berth, canary at 50%", httpbench.load(port, lua)))
    admin(port, "/abort")
    admin(port, "", {"strategy": "blue-green", "candidate": 2})
    admin(port, "/switch")
    results.append(("berth, blue-green switched", httpbench.load(port, lua)))
    admin(port, "/abort")
    admin(port, "", {"strategy": "shadow", "candidate": 2})
    results.append(("berth, shadow (every request scored twice)", httpbench.load(port, lua)))
    shadow = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/rollout").read())["shadow"]
    admin(port, "/finish")
finally:
    stop(p)

# The peer: two servers behind nginx, 50/50.
nginx = shutil.which("nginx")
if nginx:
    a, b, front = free_port(), free_port(), free_port()
    servers = [httpbench.start([berth, "serve", "--model", f"model-{c}/model.berth", "--name", "churn",
                                "--addr", f"127.0.0.1:{pt}", "-q"], pt, work)[0] for c, pt in (("1.0", a), ("0.5", b))]
    conf = os.path.join(work, "nginx.conf")
    open(conf, "w").write(f"""
worker_processes auto; daemon off; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  upstream stable {{ server 127.0.0.1:{a}; keepalive 64; }}
  upstream canary {{ server 127.0.0.1:{b}; keepalive 64; }}
  split_clients "$request_id" $side {{ 50% canary; * stable; }}
  server {{
    listen 127.0.0.1:{front};
    location / {{ proxy_pass http://$side; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
    try:
        ng, _ = httpbench.start([nginx, "-c", conf, "-p", work], front, work, ready="/health")
        try:
            results.append(("nginx split_clients 50% over two berth servers", httpbench.load(front, lua)))
        finally:
            stop(ng)
    finally:
        for s in servers:
            stop(s)
else:
    print("(nginx not installed: skipping the nginx split row)", file=sys.stderr)

base = results[0][1]["rps"]
print(f"\nrollouts in berth serve, wrk -t2 -c64 10 s, one row per request, {os.cpu_count()} cores\n")
print("| setup | req/s | vs no rollout | p50 ms | p99 ms | non-2xx |")
print("|---|---|---|---|---|---|")
for name, r in results:
    print(f"| {name} | {r['rps']:.0f} | {r['rps'] / base:.2f}× | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} |")
canary = dict(results).get("berth, canary at 50%")
peer = dict(results).get("nginx split_clients 50% over two berth servers")
if canary and peer:
    print(f"\nberth's canary (with per-request analysis) vs nginx's split: {canary['rps'] / peer['rps']:.2f}× the throughput,"
          f" p99 {canary['p99']:.2f} vs {peer['p99']:.2f} ms")
print(f"shadow statistics after the shadow run: {json.dumps(shadow)}")
