"""ONNX fixtures for berth's model runtime: small models of the kinds users
export, each with reference outputs from onnxruntime on a fixed batch.

Writes crates/berth-ml/tests/data/onnx/<name>.onnx and <name>.json
({"input_name", "input": rows, "outputs": {name: values}}). Classifiers are
exported with the converters' defaults (ZipMap included): that is what users
ship. The versions below are the ones the references were made with:

    pip install skl2onnx==1.20.0 onnxruntime==1.32.0 onnxmltools==1.16.0 \\
        xgboost==3.2.0 lightgbm==4.7.0 scikit-learn==1.9.1
    python3 scripts/export_onnx_fixtures.py [NAME ...]

With names, only those fixtures are written. Refitting on another machine
can move some coefficients by an ulp (numerical libraries differ), so the
fixtures already committed are best left as they are and new ones written
by name.
"""
import json
import pathlib
import sys
import warnings

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
import sklearn
from skl2onnx import to_onnx
from sklearn.ensemble import (AdaBoostRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer, KBinsDiscretizer, PolynomialFeatures, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC

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
    "svm_rbf_binary": (SVC(), y_bin),
    "svm_rbf_multiclass_opset17": (SVC(), y_multi),
    "svm_probability_multiclass_opset17": (SVC(probability=True, random_state=0), y_multi),
    "svr_rbf_opset17": (SVR(), y_reg),
    "binarizer_logistic_opset17": (make_pipeline(Binarizer(threshold=0.5), LogisticRegression()), y_bin),
    "imputer_ridge_opset17": (make_pipeline(SimpleImputer(), Ridge()), y_reg),
    "kbins_onehot_ridge_opset17": (make_pipeline(KBinsDiscretizer(n_bins=4, encode="onehot-dense"), Ridge()), y_reg),
}


only = set(sys.argv[1:])


def wanted(name):
    return not only or name in only


def sort_opsets(onx):
    """Converters list opsets in set order, which varies from run to run."""
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    return onx


def save(name, onx, versions):
    sort_opsets(onx)
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
    if not wanted(name):
        continue
    model.fit(X, y)
    save(name, to_onnx(model, X[:1], target_opset={"": 17, "ai.onnx.ml": 3}), base)

# The same kinds exported at skl2onnx's default opsets, as users ship them.
defaults = {
    "svm_rbf_multiclass": (SVC(), y_multi),
    "svm_probability_binary": (SVC(probability=True, random_state=0), y_bin),
    "svm_probability_multiclass": (SVC(probability=True, random_state=0), y_multi),
    "svm_scaler": (make_pipeline(StandardScaler(), SVC()), y_multi),
    "svm_linear_kernel": (SVC(kernel="linear"), y_multi),
    "svm_poly_kernel": (SVC(kernel="poly"), y_bin),
    "svm_sigmoid_kernel": (SVC(kernel="sigmoid"), y_multi),
    "svm_string_labels": (SVC(probability=True, random_state=0), y_names),
    "svr_rbf": (SVR(), y_reg),
    "svr_linear_kernel": (SVR(kernel="linear"), y_reg),
    "svr_poly_kernel": (SVR(kernel="poly"), y_reg),
    "binarizer_logistic": (make_pipeline(Binarizer(threshold=0.5), LogisticRegression()), y_bin),
    "imputer_ridge": (make_pipeline(SimpleImputer(), Ridge()), y_reg),
    "kbins_onehot_ridge": (make_pipeline(KBinsDiscretizer(n_bins=4, encode="onehot-dense"), Ridge()), y_reg),
    "kbins_ordinal_ridge": (make_pipeline(KBinsDiscretizer(n_bins=4, encode="ordinal"), Ridge()), y_reg),
    "polynomial_ridge": (make_pipeline(PolynomialFeatures(), Ridge()), y_reg),
    "adaboost_regressor": (AdaBoostRegressor(n_estimators=5, random_state=0), y_reg),
    "linear_svc_binary": (LinearSVC(), y_bin),
    "linear_svc_multiclass": (LinearSVC(), y_multi),
    "logistic_string_labels": (LogisticRegression(), y_names),
}
for name, (model, y) in defaults.items():
    if not wanted(name):
        continue
    model.fit(X, y)
    save(name, to_onnx(model, X[:1]), base)



def save_refused(name, onx):
    """A model berth refuses at load (no reference outputs)."""
    sort_opsets(onx)
    (out / f"{name}.onnx").write_bytes(onx.SerializeToString())
    doc = {"input_name": onx.graph.input[0].name, "input": batch.tolist(), "outputs": {}}
    (out / f"{name}.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: refused by berth")


# Hand-built graphs: operators no sklearn pipeline on one float matrix
# emits on its own, and models berth must refuse.
def graph(name, nodes, outputs, ml_opset=3, initializers=()):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
                          [helper.make_tensor_value_info(o, t, None) for o, t in outputs], list(initializers))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml_opset)],
                             ir_version=8)


def summed(nodes, last):
    """`nodes` then a row sum of `last` into the [rows, 1] output."""
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    return nodes + [helper.make_node("ReduceSum", [last, "axes"], ["variable"], name="RowSum", keepdims=1)], [axes]


def label_encoder_fixture(name, ml_opset, nodes, last):
    if wanted(name):
        nodes, inits = summed(nodes, last)
        save(name, graph(name, nodes, [("variable", TensorProto.FLOAT)], ml_opset, inits), base)


floor = helper.make_node("Floor", ["X"], ["floored"], name="Floor")
to_int = helper.make_node("Cast", ["floored"], ["ints"], name="ToInt", to=TensorProto.INT64)
label_encoder_fixture("label_encoder_floats", 2, [floor, helper.make_node(
    "LabelEncoder", ["floored"], ["codes"], name="LabelEncoder", domain="ai.onnx.ml",
    keys_floats=[-2.0, -1.0, 0.0, 1.0, 2.0, 10.0, 11.0], values_floats=[0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5],
    default_float=-3.0)], "codes")
label_encoder_fixture("label_encoder_ints_strings", 2, [floor, to_int, helper.make_node(
    "LabelEncoder", ["ints"], ["names"], name="ToName", domain="ai.onnx.ml",
    keys_int64s=[-1, 0, 1, 5, 10], values_strings=["m", "z", "o", "f", "t"], default_string="other"),
    helper.make_node("LabelEncoder", ["names"], ["codes"], name="ToCode", domain="ai.onnx.ml",
                     keys_strings=["m", "z", "o", "f"], values_floats=[-1.0, 0.0, 1.0, 5.0], default_float=0.25)],
    "codes")
label_encoder_fixture("label_encoder_opset1", 1, [floor, to_int, helper.make_node(
    "LabelEncoder", ["ints"], ["names"], name="ToName", domain="ai.onnx.ml",
    classes_strings=["zero", "one", "two", "three", "four", "five"], default_string="many"),
    helper.make_node("LabelEncoder", ["names"], ["positions"], name="ToPosition", domain="ai.onnx.ml",
                     classes_strings=["five", "four", "three", "two", "one", "zero"], default_int64=-7),
    helper.make_node("Cast", ["positions"], ["codes"], name="ToFloat", to=TensorProto.FLOAT)], "codes")
label_encoder_fixture("label_encoder_tensors", 4, [floor, helper.make_node(
    "LabelEncoder", ["floored"], ["codes"], name="LabelEncoder", domain="ai.onnx.ml",
    keys_tensor=numpy_helper.from_array(np.array([-1.0, 0.0, 5.0, 10.0], dtype=np.float32)),
    values_tensor=numpy_helper.from_array(np.array([7.0, 8.0, 9.0, 10.0], dtype=np.float32)),
    default_tensor=numpy_helper.from_array(np.array([0.125], dtype=np.float32)))], "codes")

if wanted("feature_vectorizer"):
    # One input, padded from 4 to 6 columns, then a linear model.
    save("feature_vectorizer", graph("feature_vectorizer", [
        helper.make_node("FeatureVectorizer", ["X"], ["wide"], name="FeatureVectorizer", domain="ai.onnx.ml",
                         inputdimensions=[6]),
        helper.make_node("LinearRegressor", ["wide"], ["variable"], name="LinearRegressor", domain="ai.onnx.ml",
                         coefficients=[0.5, -0.25, 2.0, 0.125, 3.0, 4.0], intercepts=[1.5]),
    ], [("variable", TensorProto.FLOAT)]), base)
if wanted("feature_vectorizer_two_inputs"):
    # Two inputs: one of them a copy of the row, joined by FeatureVectorizer.
    save_refused("feature_vectorizer_two_inputs", graph("feature_vectorizer_two_inputs", [
        helper.make_node("Identity", ["X"], ["copy"], name="Copy"),
        helper.make_node("FeatureVectorizer", ["X", "copy"], ["variable"], name="Join", domain="ai.onnx.ml",
                         inputdimensions=[4, 4]),
    ], [("variable", TensorProto.FLOAT)]))
def svm_linear_mode(name, coefficients, post):
    """An SVMClassifier without support vectors: one linear model per class."""
    if wanted(name):
        classes = len(coefficients) // 4
        save(name, graph(name, [helper.make_node(
            "SVMClassifier", ["X"], ["label", "probabilities"], name="SVM", domain="ai.onnx.ml",
            classlabels_ints=list(range(classes)), coefficients=coefficients, rho=[-0.25], kernel_type="LINEAR", kernel_params=[0.0, 0.0, 0.0],
            post_transform=post)], [("label", TensorProto.INT64), ("probabilities", TensorProto.FLOAT)]), base)


svm_linear_mode("svm_linear_mode_binary", [1.0, 0, 0, 0, -1.0, 0, 0, 0], "NONE")
svm_linear_mode("svm_linear_mode_softmax", [1.0, 0, 0, 0, 0, 0, 1.0, 0, -1.0, 0, 0, 0.2], "SOFTMAX")

if wanted("dict_vectorizer"):
    # DictVectorizer reads a map, not a float matrix: berth refuses it.
    from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType
    from sklearn.feature_extraction import DictVectorizer
    rows = [{"a": float(r[0]), "b": float(r[1])} for r in X]
    dv = make_pipeline(DictVectorizer(sparse=False), LogisticRegression()).fit(rows, y_bin)
    save_refused("dict_vectorizer", to_onnx(dv, initial_types=[("X", DictionaryType(StringTensorType([]), FloatTensorType([])))]))
if wanted("shape_mismatch"):
    # A Concat of a matrix and a vector: a shape error, named by its node.
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    save_refused("shape_mismatch", graph("shape_mismatch", [
        helper.make_node("ReduceSum", ["X", "axes"], ["total"], name="Total", keepdims=0),
        helper.make_node("Concat", ["X", "total"], ["variable"], name="Join", axis=1),
    ], [("variable", TensorProto.FLOAT)], initializers=[axes]))
if wanted("unsupported_operator"):
    # Det: a standard operator berth does not run.
    shape = numpy_helper.from_array(np.array([-1, 2, 2], dtype=np.int64), "shape")
    save_refused("unsupported_operator", graph("unsupported_operator", [
        helper.make_node("Reshape", ["X", "shape"], ["square"], name="Reshape"),
        helper.make_node("Det", ["square"], ["variable"], name="Det"),
    ], [("variable", TensorProto.FLOAT)], initializers=[shape]))
if wanted("svm_unknown_kernel"):
    svc = to_onnx(SVC().fit(X, y_bin), X[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    for n in svc.graph.node:
        if n.op_type == "SVMClassifier":
            for a in n.attribute:
                if a.name == "kernel_type":
                    a.s = b"FOO"
    save_refused("svm_unknown_kernel", svc)

if wanted("column_transformer_logistic"):
    # A ColumnTransformer over named inputs: two numeric columns scaled, one
    # string column one-hot encoded, then a logistic regression. One input
    # per column, as skl2onnx exports a table; the reference batch is given
    # per input ({"inputs": {name: [[value], ...]}}).
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder
    from skl2onnx.common.data_types import FloatTensorType as SkFloat, StringTensorType
    plans = np.array(["free", "pro", "team"])[np.digitize(X[:, 2], [-1.2, -0.8])]
    table = np.empty((len(X), 3), dtype=object)
    table[:, 0], table[:, 1], table[:, 2] = X[:, 0], X[:, 1], plans
    ct = make_pipeline(ColumnTransformer([("num", StandardScaler(), [0, 1]), ("cat", OneHotEncoder(), [2])]),
                       LogisticRegression())
    ct.fit(table, y_bin)
    types = [("a", SkFloat([None, 1])), ("b", SkFloat([None, 1])), ("plan", StringTensorType([None, 1]))]
    onx = sort_opsets(to_onnx(ct, initial_types=types, target_opset={"": 17, "ai.onnx.ml": 3}))
    path = out / "column_transformer_logistic.onnx"
    path.write_bytes(onx.SerializeToString())
    feeds = {"a": batch[:, 0:1], "b": batch[:, 1:2], "plan": plans[:200].reshape(-1, 1)}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, probability = sess.run(None, feeds)
    keys = sorted(probability[0].keys())
    doc = {"versions": base, "input_names": ["a", "b", "plan"],
           "inputs": {k: v.tolist() for k, v in feeds.items()},
           "outputs": {"output_label": label.tolist(),
                       "output_probability": {"classes": [str(k) for k in keys],
                                              "values": [[float(d[k]) for k in keys] for d in probability]}}}
    (out / "column_transformer_logistic.json").write_text(json.dumps(doc) + "\n")
    print("column_transformer_logistic: outputs ['output_label', 'output_probability']")

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
        if not wanted(name):
            continue
        model.fit(X, y)
        onx = convert(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))], target_opset=15)
        save(name, onx, {**base, **extra})
except ImportError as e:
    print(f"skipping XGBoost/LightGBM fixtures: {e}")
