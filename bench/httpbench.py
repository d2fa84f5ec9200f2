"""What the HTTP benchmarks share: free ports, starting a server and
waiting until it is ready, stopping it, and a wrk run parsed into req/s,
p50 and p99."""
import os, re, socket, subprocess, time
import urllib.error, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1.0) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def start(cmd, port, work, env=None, cwd=None, ready="/readyz", limit=300.0):
    """Starts a server; returns (process, seconds from spawn to `ready` answering 200)."""
    log = open(os.path.join(work, f"server-{port}.log"), "w")
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd or work, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
    while status(port, ready) != 200:
        if p.poll() is not None or time.perf_counter() - t > limit:
            stop(p)
            tail = open(log.name).read()[-2000:]
            raise SystemExit(f"{' '.join(cmd)} did not become ready:\n{tail}")
        time.sleep(0.005)
    return p, time.perf_counter() - t


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def cpu_busy(secs=1.0):
    """Share of all cores busy over `secs` (Linux /proc/stat)."""
    def snap():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v), v[3] + v[4]  # all, idle + iowait
    (t0, i0), _, (t1, i1) = snap(), time.sleep(secs), snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def load(port, lua, path="/predict", headers=()):
    """2 s warm-up, then the measured 10 s; req/s, p50 and p99 in ms, errors, and how busy
    the cores were between the two (the server idle: anything else running skews the figures)."""
    url = f"http://127.0.0.1:{port}{path}"
    # --timeout 10s: a slow answer is counted in the latencies, not dropped as a socket error
    wrk = ["wrk", "-t2", "-c64", "--timeout", "10s", "-s", lua, *[a for h in headers for a in ("-H", h)]]
    subprocess.run([*wrk, "-d2s", url], check=True, capture_output=True)
    time.sleep(0.5)  # let the server drain what the warm-up left queued
    busy = cpu_busy()
    out = subprocess.run([*wrk, "-d10s", "--latency", url],
                         check=True, capture_output=True, text=True).stdout
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms(*p50.groups()), "p99": ms(*p99.groups()),
            "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1).strip() if errors else "",
            "busy_before": busy}
