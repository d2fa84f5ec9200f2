#!/usr/bin/env python3
"""Reference values for berth-gate's statistics (crates/berth-gate/src/stats).

Computes every statistic with SciPy / NumPy on fixed inputs and writes
crates/berth-gate/tests/data/stats_reference.json, which
crates/berth-gate/tests/stats_match_scipy.rs compares against to 1e-9 relative (Levene's test, the F survival function
and the incomplete beta included).

Small samples are stored inline as integers (value = integer / denominator, so
both sides build bit-identical doubles). Large samples are described by the
deterministic generator below, which the Rust test reproduces exactly:

    x_i = (sum_k ((i + offset) * P[k] + C[k]) % M / M - 2) * scale + shift

for i in 0..n (an Irwin-Hall sum of four lattice uniforms: integer arithmetic
plus one correctly rounded division per term, summed left to right).

Run: python3 scripts/reference_stats.py   (numpy 2.x, scipy >= 1.11)
"""

import json
import os

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "berth-gate", "tests", "data", "stats_reference.json")

GEN_P = [7919, 104729, 1299709, 15485863]
GEN_C = [12345, 54321, 11111, 99991]
GEN_M = 1_000_003
DEN = 1_000_000


def generated(n, offset, scale, shift):
    i = np.arange(n, dtype=np.int64) + offset
    total = np.zeros(n)
    for p, c in zip(GEN_P, GEN_C):
        total = total + ((i * p + c) % GEN_M).astype(np.float64) / float(GEN_M)
    return (total - 2.0) * scale + shift


def spec(n, offset, scale, shift):
    return {"n": n, "offset": offset, "scale": scale, "shift": shift}


def ints(x, den):
    q = np.round(np.asarray(x) * den).astype(np.int64)
    return [int(v) for v in q], q.astype(np.float64) / float(den)


def f(x):
    return float(x)


def ks_cases():
    cases = []
    rng = np.random.default_rng(20240611)
    sizes = [(1, 1), (1, 5), (3, 4), (5, 5), (10, 10), (7, 13), (50, 60), (100, 100), (200, 150), (1000, 1200)]
    for n1, n2 in sizes:
        variants = [("same", 0.0, 1.0), ("shifted", 0.5, 1.0), ("scaled", 0.0, 2.0)]
        if n1 >= 1000:
            variants = [("shifted", 0.1, 1.0)]
        for label, shift, scale in variants:
            a_int, a = ints(rng.normal(size=n1), DEN)
            b_int, b = ints(rng.normal(loc=shift, scale=scale, size=n2), DEN)
            cases.append(ks_inline(f"normal {n1}x{n2} {label}", a_int, b_int, DEN, a, b))
    # heavy ties, constants, identical samples
    for n1, n2, hi in [(30, 40, 5), (200, 300, 5), (25, 25, 3)]:
        a_int = [int(v) for v in rng.integers(0, hi, size=n1)]
        b_int = [int(v) for v in rng.integers(0, hi, size=n2)]
        cases.append(ks_inline(f"ties 0..{hi} {n1}x{n2}", a_int, b_int, 1, np.array(a_int, float), np.array(b_int, float)))
    cases.append(ks_inline("constant equal", [3] * 20, [3] * 30, 1, np.full(20, 3.0), np.full(30, 3.0)))
    cases.append(ks_inline("constant different", [3] * 20, [4] * 30, 1, np.full(20, 3.0), np.full(30, 4.0)))
    a_int, a = ints(rng.normal(size=80), DEN)
    cases.append(ks_inline("identical samples", a_int, a_int, DEN, a, a))
    # large samples from the generator: exact path up to 10000, asymptotic above
    for n1, n2, off2, shift in [(5000, 5000, 17, 0.02), (10000, 9000, 5, 0.0), (10000, 9000, 101, 0.03),
                                (12000, 11000, 3, 0.01), (20000, 30000, 7, 0.0), (20000, 30000, 9, 0.02),
                                (1_000_000, 1_000_000, 11, 0.002)]:
        a = generated(n1, 0, 1.0, 0.0)
        b = generated(n2, off2 * 1000, 1.0, shift)
        r = stats.ks_2samp(a, b)
        cases.append({"name": f"generated {n1}x{n2} shift {shift}", "gen_a": spec(n1, 0, 1.0, 0.0),
                      "gen_b": spec(n2, off2 * 1000, 1.0, shift), "statistic": f(r.statistic), "pvalue": f(r.pvalue)})
    return cases


def ks_inline(name, a_int, b_int, den, a, b):
    r = stats.ks_2samp(a, b)
    return {"name": name, "a": a_int, "b": b_int, "den": den, "statistic": f(r.statistic), "pvalue": f(r.pvalue)}


def kstwo_grid():
    rows = []
    for n in [1, 2, 5, 10, 50, 140, 141, 1000, 100000, 500000]:
        ds = {1e-7, 0.3 / n, 0.6 / n, 0.9 / n, 1.0 / n, 1.5 / n, (n - 1.5) / n, (n - 0.5) / n, 0.5, 0.55, 0.7, 0.95, 0.999}
        for s in [0.05, 0.2, 0.5, 0.7, 0.75, 0.76, 1.0, 2.0, 2.1, 2.3, 3.0, 3.9, 4.1, 6.0, 12.0, 17.5, 18.5, 40.0, 200.0, 369.0, 371.0]:
            ds.add(np.sqrt(s / n))
        for r in [0.8, 0.99, 1.01, 1.2]:
            ds.add(r * (1.4 / n) ** (2.0 / 3.0))
        for d in sorted(ds):
            if 0.0 < d < 1.0:
                rows.append([n, float(d), f(stats.kstwo.sf(d, n))])
    return rows


def smirnov_grid():
    rows = []
    for n in [1, 2, 3, 5, 10, 20, 50, 100, 1000, 10000, 100000, 1000000, 2000000]:
        xs = {0.0, 1e-7, 0.5 / n, 1.0 / n, 1.5 / n, 3.0 / n, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99,
              1.0 - 1.0 / n, 1.0, 0.3 / np.sqrt(n), 0.5 / np.sqrt(n), 1.0 / np.sqrt(n), 2.0 / np.sqrt(n)}
        for x in sorted(xs):
            if 0.0 <= x <= 1.0:
                rows.append([n, float(x), f(special.smirnov(n, x))])
    return rows


def chi2_cases():
    rng = np.random.default_rng(7)
    tables = {
        "2x2 yates": [[12, 5], [7, 15]],
        "2x2 yates small diff": [[10, 10], [10, 11]],
        "2x2 large": [[1200, 800], [1100, 900]],
        "2x5": [[20, 15, 30, 12, 8], [25, 10, 28, 20, 5]],
        "3x4": rng.integers(5, 60, size=(3, 4)).tolist(),
        "skewed 95%": [[950, 20, 15, 15], [900, 40, 30, 30]],
        "skewed strongly different": [[9500, 200, 150, 150], [6000, 2000, 1000, 1000]],
        "tiny counts": [[1, 0, 2], [0, 3, 1]],
        "tiny 2x2": [[1, 2], [3, 0]],
        "single row": [[3, 4, 5]],
        "huge difference": [[100000, 10], [10, 100000]],
        "6x3": rng.integers(0, 30, size=(6, 3)).tolist(),
        "fractional": [[10.5, 3.25, 7.0], [4.75, 12.5, 6.0]],
    }
    cases = []
    for name, table in tables.items():
        r = stats.chi2_contingency(np.array(table, dtype=float))
        cases.append({"name": name, "table": table, "statistic": f(r.statistic), "pvalue": f(r.pvalue), "dof": int(r.dof)})
    return cases


def chi2_sf_grid():
    rows = []
    for k in [1, 2, 3, 4, 5, 7, 10, 30, 100, 1000]:
        for x in [0.0, 1e-6, 0.01, 0.1, 0.5, 1.0, 2.0, 3.84, 5.0, k * 0.5, k * 0.9, float(k), k * 1.1, k * 2.0, k + 10.0,
                  50.0, 100.0, 300.0, 1000.0, 1400.0]:
            rows.append([k, float(x), f(stats.chi2.sf(x, k))])
    return rows


def normal_grid():
    zs = [-40.0, -10.0, -5.0, -2.5, -1.0, -0.3, 0.0, 1e-8, 0.2, 0.7, 0.70710678, 1.0, 1.4142, 1.96, 2.0, 2.8, 3.0,
          4.0, 5.5, 8.0, 10.0, 15.0, 20.0, 30.0, 37.0, 38.4]
    return [[z, f(stats.norm.sf(z))] for z in zs]


def two_sample_cases():
    """z-test and Wasserstein distance on the same sample pairs."""
    rng = np.random.default_rng(99)
    cases = []
    for n1, n2, shift, scale in [(2, 3, 0.0, 1.0), (10, 12, 0.5, 1.0), (100, 80, 0.1, 2.0), (1000, 1000, 0.05, 1.0),
                                 (500, 700, 3.0, 0.5)]:
        a_int, a = ints(rng.normal(size=n1), DEN)
        b_int, b = ints(rng.normal(loc=shift, scale=scale, size=n2), DEN)
        cases.append(two_sample(f"normal {n1}x{n2} shift {shift} scale {scale}", a_int, b_int, DEN, a, b))
    a_int = [int(v) for v in rng.integers(0, 5, size=60)]
    b_int = [int(v) for v in rng.integers(0, 5, size=40)]
    cases.append(two_sample("ties 0..5", a_int, b_int, 1, np.array(a_int, float), np.array(b_int, float)))
    return cases


def two_sample(name, a_int, b_int, den, a, b):
    se = np.sqrt(np.var(a, ddof=1) / a.size + np.var(b, ddof=1) / b.size)
    z = (np.mean(a) - np.mean(b)) / se
    return {"name": name, "a": a_int, "b": b_int, "den": den, "z": f(z), "z_pvalue": f(2 * stats.norm.sf(abs(z))),
            "wasserstein": f(stats.wasserstein_distance(a, b))}


def levene_cases():
    """Levene's test centred on the median (scipy.stats.levene's default), on
    inline samples and, for large sizes, on the generator above."""
    rng = np.random.default_rng(1974)
    cases = []
    for n1, n2, shift, scale in [(2, 3, 0.0, 1.0), (5, 5, 0.0, 3.0), (10, 12, 0.5, 1.0), (50, 60, 0.0, 1.5),
                                 (100, 80, 0.1, 2.0), (1000, 1000, 0.0, 1.5), (1000, 1000, 0.0, 1.05),
                                 (500, 700, 3.0, 0.5), (2000, 3000, 0.0, 1.0)]:
        a_int, a = ints(rng.normal(size=n1), DEN)
        b_int, b = ints(rng.normal(loc=shift, scale=scale, size=n2), DEN)
        cases.append(levene_inline(f"normal {n1}x{n2} shift {shift} scale {scale}", [a_int, b_int], DEN, [a, b]))
    # heavy tails and skew, where the median centre matters
    a_int, a = ints(rng.standard_t(2, size=300), DEN)
    b_int, b = ints(rng.standard_t(2, size=400) * 1.3, DEN)
    cases.append(levene_inline("student t2 300x400 scale 1.3", [a_int, b_int], DEN, [a, b]))
    a_int, a = ints(rng.lognormal(size=250), DEN)
    b_int, b = ints(rng.lognormal(sigma=1.2, size=250), DEN)
    cases.append(levene_inline("lognormal 250x250 sigma 1.2", [a_int, b_int], DEN, [a, b]))
    # three samples, ties, an odd and an even median
    groups = [rng.integers(0, 6, size=n) for n in (31, 40, 25)]
    ints_ = [[int(v) for v in g] for g in groups]
    cases.append(levene_inline("ties 0..6 three samples", ints_, 1, [np.array(g, float) for g in ints_]))
    for n1, n2, off2, scale in [(5000, 5000, 13, 1.5), (20000, 30000, 7, 1.0), (20000, 30000, 9, 1.02),
                                (1_000_000, 1_000_000, 11, 1.001)]:
        a = generated(n1, 0, 1.0, 0.0)
        b = generated(n2, off2 * 1000, scale, 0.0)
        r = stats.levene(a, b)
        cases.append({"name": f"generated {n1}x{n2} scale {scale}", "gen": [spec(n1, 0, 1.0, 0.0),
                      spec(n2, off2 * 1000, scale, 0.0)], "statistic": f(r.statistic), "pvalue": f(r.pvalue)})
    return cases


def levene_inline(name, samples_int, den, samples):
    r = stats.levene(*samples)
    return {"name": name, "samples": samples_int, "den": den, "statistic": f(r.statistic), "pvalue": f(r.pvalue)}


def f_sf_grid():
    rows = []
    for dfn in [1, 2, 3, 5, 10, 40]:
        for dfd in [1, 2, 5, 10, 30, 100, 1000, 100000, 2000000]:
            for x in [1e-8, 0.01, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 3.84, 5.0, 10.0, 30.0, 100.0, 1000.0, 1e5]:
                rows.append([dfn, dfd, x, f(stats.f.sf(x, dfn, dfd))])
    return rows


def beta_inc_grid():
    rows = []
    for a in [0.5, 1.0, 2.5, 10.0, 100.0, 5000.0]:
        for b in [0.5, 1.0, 3.0, 50.0, 1000.0]:
            for x in [1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999999]:
                rows.append([a, b, x, f(special.betainc(a, b, x))])
    return rows


def binned_cases():
    """Jensen-Shannon distance and PSI on binned distributions."""
    rng = np.random.default_rng(5)
    pairs = {
        "uniform vs skewed": ([0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]),
        "counts not normalised": ([10, 20, 30, 40], [12, 18, 33, 37]),
        "with empty bins": ([0.5, 0.5, 0.0], [0.4, 0.3, 0.3]),
        "nearly identical": ([0.2, 0.3, 0.5], [0.2001, 0.2999, 0.5]),
        "identical": ([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]),
        "disjoint": ([1.0, 0.0], [0.0, 1.0]),
    }
    for k in [10, 20, 150]:
        p = rng.dirichlet(np.ones(k))
        q = rng.dirichlet(np.ones(k))
        pairs[f"dirichlet {k} bins"] = (p.tolist(), q.tolist())
    cases = []
    for name, (p, q) in pairs.items():
        pa, qa = np.array(p, float), np.array(q, float)
        e = np.where(pa == 0, 1e-4, pa)
        a = np.where(qa == 0, 1e-4, qa)
        psi = np.sum((a - e) * np.log(a / e))
        cases.append({"name": name, "p": [float(v) for v in p], "q": [float(v) for v in q],
                      "jensenshannon": f(distance.jensenshannon(pa, qa)), "psi": f(psi)})
    return cases


def holm_reference(p):
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adj = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    adj = np.minimum(adj, 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def correction_cases():
    rng = np.random.default_rng(11)
    families = {
        "scipy example": [0.5, 0.6, 0.1, 0.001],
        "single": [0.03],
        "ties": [0.01, 0.01, 0.04, 0.04, 0.2],
        "zeros and ones": [0.0, 1.0, 0.5, 0.0],
        "random 50": rng.uniform(size=50).tolist(),
        "small p 30": (rng.uniform(size=30) ** 6).tolist(),
    }
    cases = []
    for name, p in families.items():
        cases.append({"name": name, "p": [float(v) for v in p], "holm": [f(v) for v in holm_reference(p)],
                      "bh": [f(v) for v in np.atleast_1d(stats.false_discovery_control(np.array(p, float), method="bh"))]})
    return cases


def main():
    doc = {
        "generated_by": "scripts/reference_stats.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "generator": {"p": GEN_P, "c": GEN_C, "m": GEN_M},
        "ks_2samp": ks_cases(),
        "kstwo_sf": kstwo_grid(),
        "smirnov": smirnov_grid(),
        "chi2_contingency": chi2_cases(),
        "chi2_sf": chi2_sf_grid(),
        "normal_sf": normal_grid(),
        "two_sample": two_sample_cases(),
        "levene": levene_cases(),
        "f_sf": f_sf_grid(),
        "beta_inc": beta_inc_grid(),
        "binned": binned_cases(),
        "corrections": correction_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
