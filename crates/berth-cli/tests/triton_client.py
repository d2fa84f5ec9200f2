"""Triton's own HTTP client against a running `berth serve` of an ONNX file.

Usage: triton_client.py HOST:PORT MODEL REFERENCE.json

Reads the model's metadata, builds each input from the metadata's name,
datatype and shape (rows filled in; one tensor per input for a graph with an
input per column, text as BYTES), and infers twice: with the client's
defaults (binary tensor data both ways) and with JSON only
(`binary_data=False` on the input and on every requested output). Every
output the metadata lists must come back with its datatype and shape and
match the reference outputs onnxruntime gave for the same file. Prints one
line per check; exits non-zero at the first mismatch.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import triton_to_np_dtype


def fail(message):
    print(f"MISMATCH: {message}", file=sys.stderr)
    sys.exit(1)


def reference_output(reference, output):
    """onnxruntime's values for an output, as an array in berth's class order."""
    want = reference["outputs"][output["name"]]
    if isinstance(want, dict):  # ZipMap: rows of {class: probability}
        classes = output.get("parameters", {}).get("classes", ",".join(want["classes"])).split(",")
        column = {c: i for i, c in enumerate(want["classes"])}
        missing = [c for c in classes if c not in column]
        if missing:
            fail(f"{output['name']}: classes {missing} are not in the reference's {want['classes']}")
        return np.array([[row[column[c]] for c in classes] for row in want["values"]])
    return np.array(want)


def check(result, output, reference, rows, mode):
    name, datatype = output["name"], output["datatype"]
    got = result.as_numpy(name)
    if got is None:
        fail(f"{mode}: output {name} is missing from the answer: {result.get_response()}")
    answered = result.get_output(name)
    if answered["datatype"] != datatype:
        fail(f"{mode}: output {name} is {answered['datatype']}, the metadata says {datatype}")
    declared = [rows if d == -1 and i == 0 else d for i, d in enumerate(output["shape"])]
    if any(d != -1 and d != g for d, g in zip(declared, got.shape)) or len(declared) != got.ndim:
        fail(f"{mode}: output {name} has shape {list(got.shape)}, the metadata says {output['shape']}")
    want = reference_output(reference, output)
    if datatype == "BYTES":
        got_text = [g.decode() if isinstance(g, bytes) else str(g) for g in got.reshape(-1)]
        want_text = [str(w) for w in want.reshape(-1)]
        if got_text != want_text:
            fail(f"{mode}: output {name}: {got_text[:5]}… vs onnxruntime {want_text[:5]}…")
    elif datatype.startswith("INT"):
        if got.dtype != triton_to_np_dtype(datatype) or not np.array_equal(got.reshape(-1), want.reshape(-1)):
            fail(f"{mode}: output {name} ({got.dtype}): {got.reshape(-1)[:5]}… vs onnxruntime {want.reshape(-1)[:5]}…")
    else:
        if got.dtype != triton_to_np_dtype(datatype):
            fail(f"{mode}: output {name} came as {got.dtype}, the metadata says {datatype}")
        if got.size != want.size or not np.allclose(got.reshape(-1), want.reshape(-1), rtol=1e-5, atol=1e-5):
            fail(f"{mode}: output {name}: {got.reshape(-1)[:5]}… vs onnxruntime {want.reshape(-1)[:5]}…")
    print(f"ok {mode} {name} {datatype} {list(got.shape)}")


def batch_of(reference, described):
    """The reference rows for one input, in the metadata's datatype."""
    values = reference["inputs"][described["name"]] if "inputs" in reference else reference["input"]
    if described["datatype"] == "BYTES":
        return np.array([[str(v).encode() for v in row] for row in values], dtype=np.object_)
    return np.array(values, dtype=triton_to_np_dtype(described["datatype"]))


def main():
    url, model, reference_path = sys.argv[1:4]
    with open(reference_path) as f:
        reference = json.load(f)
    client = httpclient.InferenceServerClient(url=url)
    if not client.is_server_live() or not client.is_model_ready(model):
        fail("the server is not live or the model is not ready")
    meta = client.get_model_metadata(model)
    print(f"metadata {json.dumps(meta)}")
    # One input matrix ("input"), or one input per column ("inputs").
    names = reference.get("input_names") or [reference["input_name"]]
    described = meta["inputs"]
    if [d["name"] for d in described] != names:
        fail(f"inputs {[d['name'] for d in described]}, the graph's are {names}")
    batches = [batch_of(reference, d) for d in described]
    rows = batches[0].shape[0]

    def tensors(binary=True):
        out = []
        for d, batch in zip(described, batches):
            shape = [rows if n == -1 and i == 0 else n for i, n in enumerate(d["shape"])]
            if list(batch.shape) != shape:
                fail(f"the reference batch of {d['name']} has shape {list(batch.shape)}, the metadata says {d['shape']}")
            t = httpclient.InferInput(d["name"], shape, d["datatype"])
            t.set_data_from_numpy(batch, binary_data=binary)
            out.append(t)
        return out

    for mode, binary in [("binary", True), ("json", False)]:
        if binary:
            result = client.infer(model, tensors())  # the client's defaults
        else:
            outputs = [httpclient.InferRequestedOutput(o["name"], binary_data=False) for o in meta["outputs"]]
            result = client.infer(model, tensors(binary=False), outputs=outputs)
        for output in meta["outputs"]:
            check(result, output, reference, rows, mode)

    # Only the outputs asked for.
    first = meta["outputs"][0]["name"]
    result = client.infer(model, tensors(), outputs=[httpclient.InferRequestedOutput(first)])
    names = [o["name"] for o in result.get_response()["outputs"]]
    if names != [first]:
        fail(f"asked for {first} alone, got {names}")
    print(f"ok only {first}")


if __name__ == "__main__":
    main()
