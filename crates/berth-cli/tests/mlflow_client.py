"""The real `mlflow` client against a berth hub, as a team's scripts use it.

Run by hub_mlflow.rs with a pinned mlflow, onnxruntime and pandas:

    python mlflow_client.py HUB_URL TOKENS_JSON MODEL_ONNX ROWS_CSV OUT_JSON

TOKENS_JSON names tokens by role: {"publisher", "deployer", "reader"}. Each step asserts
what the client must see; the predictions of `mlflow.pyfunc` and what was
downloaded are written to OUT_JSON for the Rust side to compare with
`berth predict`. Exits non-zero, with the failing step, on any difference.
"""

import hashlib
import json
import os
import sys
import tempfile
import time

hub, tokens_file, model_file, rows_file, out_file = sys.argv[1:6]
tokens = json.load(open(tokens_file))

os.environ["MLFLOW_TRACKING_URI"] = hub
os.environ["MLFLOW_TRACKING_TOKEN"] = tokens["publisher"]
# A hub that answered 5xx would be retried for minutes; fail fast instead.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import RestException  # noqa: E402
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository  # noqa: E402

out = {"steps": []}


def step(name):
    out["steps"].append(name)
    print("step:", name, flush=True)


def refused(fn, code, *, contains=()):
    """fn() must raise RestException with error code `code`."""
    try:
        fn()
    except RestException as e:
        assert e.error_code == code, f"expected {code}, got {e.error_code}: {e}"
        for c in contains:
            assert c in str(e), f"{c!r} not in {e}"
        return str(e)
    raise AssertionError(f"expected {code}, the call succeeded")


client = MlflowClient()

step("create a registered model, once")
rm = client.create_registered_model("churn", tags={"team": "growth"}, description="who leaves")
assert rm.name == "churn" and rm.description == "who leaves" and rm.tags == {"team": "growth"}, rm
refused(lambda: client.create_registered_model("churn"), "RESOURCE_ALREADY_EXISTS")
# mlflow.register_model's own path: an existing model is carried on with.
assert client.get_registered_model("churn").latest_versions == []

step("upload the model's files through the artifact proxy")
with tempfile.TemporaryDirectory() as d:
    os.makedirs(os.path.join(d, "extra"))
    with open(model_file, "rb") as src, open(os.path.join(d, "model.onnx"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(d, "extra", "notes.txt"), "w") as f:
        f.write("trained on the 2026-11 snapshot\n")
    repo = get_artifact_repository("mlflow-artifacts:/churn/run-1/model")
    repo.log_artifacts(d)
listed = sorted((f.path, f.is_dir) for f in repo.list_artifacts())
assert listed == [("extra", True), ("model.onnx", False)], listed

step("create a version from the uploaded files")
started = time.time()
mv = client.create_model_version(
    "churn", "mlflow-artifacts:/churn/run-1/model", tags={"stage": "candidate"}, description="first cut"
)
assert time.time() - started < 30, "the client waited for READY: the status was not READY"
assert (mv.name, mv.version, mv.status, mv.current_stage) == ("churn", "1", "READY", "None"), mv
assert mv.tags == {"stage": "candidate"} and mv.description == "first cut", mv
assert mv.source == "mlflow-artifacts:/churn/run-1/model", mv.source
refused(
    lambda: client.create_model_version("churn", "mlflow-artifacts:/churn/run-9"),
    "INVALID_PARAMETER_VALUE",
    contains=("nothing is staged",),
)
refused(
    lambda: client.create_model_version("churn", "s3://bucket/churn/model"),
    "INVALID_PARAMETER_VALUE",
    contains=("mlflow-artifacts",),
)

step("read, search, describe and tag")
assert client.get_model_version("churn", "1").version == "1"
found = client.search_model_versions("name='churn'")
assert [v.version for v in found] == ["1"], found
assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'ch%'")] == ["churn"]
assert client.search_registered_models(filter_string="name = 'fraud'") == []
refused(lambda: client.search_registered_models(filter_string="stage = 'x'"), "INVALID_PARAMETER_VALUE")
client.set_model_version_tag("churn", "1", "validated", "no")
client.delete_model_version_tag("churn", "1", "stage")
client.update_model_version("churn", "1", description="first cut, checked")
v = client.get_model_version("churn", "1")
assert v.tags == {"validated": "no"} and v.description == "first cut, checked", v
client.set_registered_model_tag("churn", "tier", "1")
client.delete_registered_model_tag("churn", "team")
client.update_registered_model("churn", description="customers who leave")
rm = client.get_registered_model("churn")
assert rm.tags == {"tier": "1"} and rm.description == "customers who leave", rm
assert [v.version for v in rm.latest_versions] == ["1"], rm.latest_versions
refused(lambda: client.get_model_version("churn", "7"), "RESOURCE_DOES_NOT_EXIST")
refused(lambda: client.get_registered_model("fraud"), "RESOURCE_DOES_NOT_EXIST")

step("set an alias and read the version by it")
refused(lambda: client.set_registered_model_alias("churn", "champion", "1"), "PERMISSION_DENIED", contains=("deployer",))
os.environ["MLFLOW_TRACKING_TOKEN"] = tokens["deployer"]
client.set_registered_model_alias("churn", "champion", "1")
assert client.get_model_version_by_alias("churn", "champion").version == "1"
assert client.get_registered_model("churn").aliases == {"champion": "1"}
uri = client.get_model_version_download_uri("churn", "1")
assert uri == "mlflow-artifacts:/churn/versions/1", uri

step("download the version's files")
with tempfile.TemporaryDirectory() as d:
    local = mlflow.artifacts.download_artifacts("models:/churn@champion", dst_path=d)
    names = sorted(os.path.relpath(os.path.join(r, f), local) for r, _, fs in os.walk(local) for f in fs)
    want = open(model_file, "rb").read()
    got = open(os.path.join(local, "model.onnx"), "rb").read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(want).hexdigest(), "model.onnx differs"
    out["downloaded"] = names

step("load the version with mlflow.pyfunc and predict")
model = mlflow.pyfunc.load_model("models:/churn@champion")
rows = pd.read_csv(rows_file).astype("float32")
pred = model.predict(rows)
out["labels"] = [int(x) for x in pred["output_label"]]
raw = model.get_raw_model().run(None, {"X": rows.values})
out["probabilities"] = [[float(p[k]) for k in sorted(p)] for p in raw[1]]

step("an alias the policy governs is a promotion, refused with what is missing")
message = refused(
    lambda: client.set_registered_model_alias("churn", "production", "1"),
    "PERMISSION_DENIED",
    contains=("governs", "quality"),
)
out["production_refusal"] = message
refused(lambda: client.delete_model_version("churn", "1"), "RESOURCE_CONFLICT", contains=("keeps every version",))
client.delete_registered_model_alias("churn", "champion")
assert client.get_registered_model("churn").aliases == {}
os.environ["MLFLOW_TRACKING_TOKEN"] = tokens["publisher"]

step("the token decides: a reader reads, cannot write; a wrong token is unauthenticated")
os.environ["MLFLOW_TRACKING_TOKEN"] = tokens["reader"]
assert client.get_registered_model("churn").name == "churn"
refused(lambda: client.create_registered_model("fraud"), "PERMISSION_DENIED", contains=("publisher",))
os.environ["MLFLOW_TRACKING_TOKEN"] = "berth_not-a-token"
refused(lambda: client.get_registered_model("churn"), "UNAUTHENTICATED")
del os.environ["MLFLOW_TRACKING_TOKEN"]
os.environ["MLFLOW_TRACKING_USERNAME"] = "ci"
os.environ["MLFLOW_TRACKING_PASSWORD"] = tokens["publisher"]
assert client.get_registered_model("churn").name == "churn", "Basic credentials carry the token too"

step("a model without versions can be deleted")
client.create_registered_model("scratch")
client.delete_registered_model("scratch")
refused(lambda: client.get_registered_model("scratch"), "RESOURCE_DOES_NOT_EXIST")

json.dump(out, open(out_file, "w"))
print("ok", flush=True)
