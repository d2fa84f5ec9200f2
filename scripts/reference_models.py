"""Reference predictions for berth's built-in trainers, computed with
scikit-learn on small fixtures. Writes crates/berth-ml/tests/data/:

- text.csv + naive_bayes.json: TfidfVectorizer() + MultinomialNB() probabilities;
- regression.csv + ridge.json: StandardScaler() + Ridge(alpha=1.0) predictions;
- classification.csv + logistic.json: StandardScaler() + LogisticRegression()
  probabilities (an iterative fit: compared to 1e-6).

    python3 scripts/reference_models.py
"""
import json
import pathlib

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

out = pathlib.Path(__file__).resolve().parent.parent / "crates/berth-ml/tests/data"
rng = np.random.default_rng(7)
meta = {"generated_by": f"scikit-learn {sklearn.__version__}"}

pos = ["great", "fast", "friendly", "reliable", "lovely", "superb"]
neg = ["slow", "rude", "broken", "awful", "late", "buggy"]
noun = ["app", "service", "staff", "update", "delivery"]
texts, labels = [], []
for _ in range(300):
    good = rng.random() < 0.5
    words = pos if good else neg
    sentence = f"the {rng.choice(noun)} was {rng.choice(words)} and {rng.choice(words + pos[:1] + neg[:1])}"
    texts.append(sentence)
    labels.append("positive" if good != (rng.random() < 0.1) else "negative")
text = pd.DataFrame({"text": texts, "label": labels})
text.to_csv(out / "text.csv", index=False)
nb = make_pipeline(TfidfVectorizer(), MultinomialNB()).fit(text.text, text.label)
(out / "naive_bayes.json").write_text(json.dumps({**meta, "classes": list(nb.classes_), "proba": nb.predict_proba(text.text).tolist()}) + "\n")

X = rng.normal(0, 1, (200, 4)) * [1, 10, 0.1, 5] + [0, 100, -3, 7]
y = X @ [1.5, -0.2, 8.0, 0.3] + rng.normal(0, 0.5, 200)
reg = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y)
reg.to_csv(out / "regression.csv", index=False, float_format="%.17g")
ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(reg[["a", "b", "c", "d"]], reg.y)
(out / "ridge.json").write_text(json.dumps({**meta, "prediction": ridge.predict(reg[["a", "b", "c", "d"]]).tolist()}) + "\n")

Xc = rng.normal(0, 1, (300, 3))
yc = np.argmax(Xc @ rng.normal(0, 2, (3, 3)) + rng.normal(0, 1, (300, 3)), axis=1)
clf = pd.DataFrame(Xc, columns=["u", "v", "w"]).assign(k=yc)
clf.to_csv(out / "classification.csv", index=False, float_format="%.17g")
lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)).fit(clf[["u", "v", "w"]], clf.k)
(out / "logistic.json").write_text(json.dumps({**meta, "classes": [str(c) for c in lr.classes_], "proba": lr.predict_proba(clf[["u", "v", "w"]]).tolist()}) + "\n")
print(f"wrote fixtures to {out}")
