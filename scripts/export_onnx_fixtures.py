"""ONNX fixtures for berth's model runtime: small models of the kinds users
export, each with reference outputs from onnxruntime on a fixed batch.

Writes crates/berth-ml/tests/data/onnx/<name>.onnx and <name>.json
({"input_name", "input": rows, "outputs": {name: values}}). Classifiers are
exported with the converters' defaults (ZipMap included): that is what users
ship. The versions below are the ones the references were made with:

    pip install skl2onnx==1.20.0 onnxruntime==1.32.0 onnxmltools==1.16.0 \\
        xgboost==3.2.0 lightgbm==4.7.0 scikit-learn==1.9.1
    python3 scripts/export_onnx_fixtures.py
"""
import json
import pathlib
import warnings

import numpy as np
import onnxruntime as ort
import sklearn
from skl2onnx import to_onnx
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

warnings.filterwarnings("ignore")
out = pathlib.Path(__file__).resolve().parent.parent / "crates/berth-ml/tests/data/onnx"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(2026)
X = rng.normal(0, 1, (300, 4)).astype(np.float32) * [1, 3, 0.5, 2] + [0, 10, -1, 5]
X = X.astype(np.float32)
w = np.array([1.0, -0.4, 2.0, 0.3])
y_reg = (X @ w + rng.normal(0, 0.3, 300)).astype(np.float32)
y_bin = (X @ w + rng.normal(0, 1, 300) > np.median(X @ w)).astype(np.int64)
y_multi = np.digitize(X @ w + rng.normal(0, 1, 300), np.quantile(X @ w, [0.33, 0.66])).astype(np.int64)
y_names = np.array(["low", "mid", "high"])[y_multi]
batch = X[:200]

models = {
    "logistic_binary": (LogisticRegression(), y_bin),
    "logistic_multiclass": (LogisticRegression(), y_multi),
    "linear_regression": (LinearRegression(), y_reg),
    "ridge": (Ridge(), y_reg),
    "scaler_logistic": (make_pipeline(StandardScaler(), LogisticRegression()), y_multi),
    "scaler_ridge": (make_pipeline(StandardScaler(), Ridge()), y_reg),
    "random_forest_binary": (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), y_bin),
    "random_forest_multiclass": (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), y_multi),
    "random_forest_regressor": (RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0), y_reg),
    "gradient_boosting_binary": (GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0), y_bin),
    "gradient_boosting_multiclass": (GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0), y_multi),
    "gradient_boosting_regressor": (GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0), y_reg),
    "random_forest_string_labels": (RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), y_names),
    # An operator berth does not implement (SVMClassifier): the tests check
    # that loading it names the operator and the node.
    "svm_unsupported": (SVC(), y_bin),
}


def save(name, onx, versions):
    path = out / f"{name}.onnx"
    path.write_bytes(onx.SerializeToString())
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = sess.get_inputs()[0].name
    results = sess.run(None, {input_name: batch})
    outputs = {}
    for o, r in zip(sess.get_outputs(), results):
        if isinstance(r, list):  # ZipMap: a list of {class: probability}
            keys = sorted(r[0].keys())
            outputs[o.name] = {"classes": [str(k) for k in keys], "values": [[float(d[k]) for k in keys] for d in r]}
        else:
            outputs[o.name] = np.asarray(r).tolist()
    doc = {"versions": versions, "input_name": input_name, "input": batch.tolist(), "outputs": outputs}
    (out / f"{name}.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: outputs {list(outputs)}")


base = {"scikit-learn": sklearn.__version__, "onnxruntime": ort.__version__}
for name, (model, y) in models.items():
    model.fit(X, y)
    save(name, to_onnx(model, X[:1], target_opset={"": 17, "ai.onnx.ml": 3}), base)

try:
    import lightgbm
    import onnxmltools
    import xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    extra = {"lightgbm": lightgbm.__version__, "xgboost": xgboost.__version__, "onnxmltools": onnxmltools.__version__}
    kinds = [
        ("xgboost_binary", xgboost.XGBClassifier(n_estimators=10, max_depth=3), y_bin, onnxmltools.convert_xgboost),
        ("xgboost_multiclass", xgboost.XGBClassifier(n_estimators=10, max_depth=3), y_multi, onnxmltools.convert_xgboost),
        ("xgboost_regressor", xgboost.XGBRegressor(n_estimators=10, max_depth=3), y_reg, onnxmltools.convert_xgboost),
        ("lightgbm_binary", lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1), y_bin, onnxmltools.convert_lightgbm),
        ("lightgbm_multiclass", lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1), y_multi, onnxmltools.convert_lightgbm),
        ("lightgbm_regressor", lightgbm.LGBMRegressor(n_estimators=10, num_leaves=7, verbose=-1), y_reg, onnxmltools.convert_lightgbm),
    ]
    for name, model, y, convert in kinds:
        model.fit(X, y)
        onx = convert(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))], target_opset=15)
        save(name, onx, {**base, **extra})
except ImportError as e:
    print(f"skipping XGBoost/LightGBM fixtures: {e}")
