"""Reference metrics for berth's hist_gradient_boosting, from scikit-learn's
HistGradientBoostingClassifier/Regressor and LightGBM 4 at their defaults.

The data is generated from a fixed seed with splitmix64 and plain
arithmetic, so berth's test (crates/berth-ml/tests/hist_gradient_boosting.rs)
regenerates the same rows bit for bit instead of reading a large CSV:
20,000 rows, 8 uniform features x0..x7 in [-1, 1] (x0 10% and x3 15%
missing), one text column c (levels a..f, 5% missing), and three targets:
y_bin (two classes), y_multi (three classes) and y_reg (a value), plus
y_pos = exp(y_reg / 4) (a positive value, for the Poisson loss). The first
16,000 rows train, the last 4,000 are held out. Writes
crates/berth-ml/tests/data/hist_gradient_boosting.json with the held-out
accuracy / R² of each library at its defaults (scikit-learn stops early on
a random tenth of the training rows) and without early stopping, and the
held-out mean absolute error of the absolute-error loss on y_reg and mean
Poisson deviance of the Poisson loss on y_pos.

    pip install scikit-learn==1.9.1 lightgbm==4.7.0 numpy pandas
    python3 scripts/reference_hist_gradient_boosting.py

With --timing FILE it instead writes 100,000 rows x 20 features (no missing
values) to FILE as CSV and prints each library's fit time on the first
80,000 and its held-out accuracy, for comparison with
`cargo test -p berth-ml --release --test hist_gradient_boosting -- --ignored --nocapture`.
"""
import json
import pathlib
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed & MASK

    def uniform(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        return (z >> 11) * 2.0**-53


LEVELS = ["a", "b", "c", "d", "e", "f"]
CAT_EFFECT = [0.9, -0.8, 0.3, -0.2, 1.2, -1.1]
ROWS, TRAIN = 20000, 16000


def noise(r):
    return r.uniform() + r.uniform() + r.uniform() + r.uniform() - 2.0


def generate(rows=ROWS, seed=20261202):
    """The reference rows; berth's test mirrors this function exactly."""
    r = SplitMix(seed)
    cols = {f"x{j}": [] for j in range(8)}
    cols.update(c=[], y_bin=[], y_multi=[], y_reg=[])
    for _ in range(rows):
        x = [2.0 * r.uniform() - 1.0 for _ in range(8)]
        k = int(r.uniform() * 6.0)
        e0, e1, e2 = noise(r), noise(r), noise(r)
        step = 1.0 if x[2] > 0.2 else -0.6
        s = 1.5 * x[0] * x[1] + step + 2.0 * x[3] * x[3] - 0.7 + 0.8 * x[4] - 0.5 * x[5] * x[6] + CAT_EFFECT[k] + 0.8 * e0
        reg = 3.0 * x[0] * x[1] + 2.0 * step + 2.0 * x[3] * x[3] + x[4] - x[5] * x[6] + 1.5 * CAT_EFFECT[k] + 0.5 * e0
        m = [x[0] + CAT_EFFECT[k] + 0.5 * e1, 3.0 * x[1] * x[2] + 0.5 * e2, 3.0 * x[3] * x[3] - 1.0 + x[7] + 0.5 * e0]
        multi = 0
        for c in (1, 2):
            if m[c] > m[multi]:
                multi = c
        miss0, miss3, miss_c = r.uniform() < 0.1, r.uniform() < 0.15, r.uniform() < 0.05
        for j in range(8):
            cols[f"x{j}"].append(float("nan") if (j == 0 and miss0) or (j == 3 and miss3) else x[j])
        cols["c"].append(None if miss_c else LEVELS[k])
        cols["y_bin"].append(1 if s > 0.0 else 0)
        cols["y_multi"].append(multi)
        cols["y_reg"].append(reg)
    df = pd.DataFrame(cols)
    df["c"] = pd.Categorical(df["c"], categories=LEVELS)
    return df


def r2(y, p):
    y, p = np.asarray(y), np.asarray(p)
    return float(1.0 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def mean_poisson_deviance(y, mu):
    y, mu = np.asarray(y), np.asarray(mu)
    term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(np.mean(2.0 * (term - y + mu)))


def reference():
    import lightgbm
    from sklearn.metrics import mean_poisson_deviance as sk_poisson

    df = generate()
    df["y_pos"] = np.exp(df["y_reg"] / 4.0)
    features = [f"x{j}" for j in range(8)] + ["c"]
    train, test = df.iloc[:TRAIN], df.iloc[TRAIN:]
    out = {
        "generated_by": f"scikit-learn {sklearn.__version__}, lightgbm {lightgbm.__version__}",
        "rows": ROWS,
        "train_rows": TRAIN,
    }
    sklearn_models = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    lightgbm_models = (lightgbm.LGBMClassifier, lightgbm.LGBMRegressor)
    quiet = {"random_state": 0, "verbose": -1}
    # LightGBM does not stop early unless asked, so its two runs are one.
    runs = {
        "defaults": {
            "scikit-learn": (sklearn_models, {"random_state": 0}),
            "lightgbm": (lightgbm_models, quiet),
        },
        "no_early_stopping": {
            "scikit-learn": (sklearn_models, {"random_state": 0, "early_stopping": False}),
            "lightgbm": (lightgbm_models, quiet),
        },
    }
    for run, libs in runs.items():
        out[run] = {}
        for name, ((clf, reg), kw) in libs.items():
            m = {}
            for target in ["y_bin", "y_multi"]:
                model = clf(**kw).fit(train[features], train[target])
                m[f"{target}_accuracy"] = float((model.predict(test[features]) == test[target]).mean())
            model = reg(**kw).fit(train[features], train["y_reg"])
            m["y_reg_r2"] = r2(test["y_reg"], model.predict(test[features]))
            losses = {"scikit-learn": ("absolute_error", "poisson", "loss"), "lightgbm": ("l1", "poisson", "objective")}
            absolute, poisson, key = losses[name]
            model = reg(**kw, **{key: absolute}).fit(train[features], train["y_reg"])
            m["y_reg_mae"] = float(np.mean(np.abs(test["y_reg"] - model.predict(test[features]))))
            model = reg(**kw, **{key: poisson}).fit(train[features], train["y_pos"])
            mu = model.predict(test[features])
            m["y_pos_poisson_deviance"] = mean_poisson_deviance(test["y_pos"], mu)
            assert abs(m["y_pos_poisson_deviance"] - sk_poisson(test["y_pos"], mu)) < 1e-9
            out[run][name] = m
    path = pathlib.Path(__file__).resolve().parent.parent / "crates/berth-ml/tests/data/hist_gradient_boosting.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


def timing(path):
    import lightgbm

    rng = np.random.default_rng(0)
    n, d = 100_000, 20
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    s = X @ w + 1.5 * X[:, 0] * X[:, 1] - X[:, 2] ** 2 + rng.normal(size=n)
    y = (s > np.median(s)).astype(int)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(d)]).assign(y=y)
    df.to_csv(path, index=False, float_format="%.17g")
    tr, te = slice(0, 80_000), slice(80_000, n)
    for name, model in [
        ("scikit-learn HistGradientBoostingClassifier", HistGradientBoostingClassifier(random_state=0)),
        ("lightgbm LGBMClassifier", lightgbm.LGBMClassifier(random_state=0, verbose=-1)),
    ]:
        t = time.perf_counter()
        model.fit(X[tr], y[tr])
        seconds = time.perf_counter() - t
        acc = (model.predict(X[te]) == y[te]).mean()
        print(f"{name}: fit {seconds:.2f} s, held-out accuracy {acc:.4f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--timing":
        timing(sys.argv[2])
    else:
        reference()
