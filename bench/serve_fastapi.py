"""The peer for bench/serve.sh: the seeds' stack in its best configuration.

FastAPI on uvicorn (uvloop and httptools, started with one worker per core
by serve.py), a scikit-learn model loaded with joblib, and the same JSON in
and out as berth's /predict. The body is parsed with json.loads
on the raw request rather than a pydantic model: pydantic validation of a
list of dicts costs more than the model itself, and this is the fastest
honest way to answer the same request.

    BERTH_BENCH_MODEL=model.joblib uvicorn serve_fastapi:app --workers 2
"""
import json
import os

import joblib
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

model = joblib.load(os.environ["BERTH_BENCH_MODEL"])
features = [f"f{i}" for i in range(10)]
classes = [str(c) for c in getattr(model, "classes_", [])]
app = FastAPI()


@app.get("/readyz")
def readyz():
    return {"ready": True}


@app.post("/predict")
async def predict(request: Request):
    try:
        rows = json.loads(await request.body())["instances"]
        x = np.array([[float(r[f]) for f in features] for r in rows])
    except (ValueError, KeyError, TypeError) as e:
        return JSONResponse({"error": str(e)}, status_code=422)
    proba = model.predict_proba(x)
    labels = [classes[i] for i in proba.argmax(axis=1)]
    body = {"predictions": labels, "probabilities": [dict(zip(classes, p.tolist())) for p in proba]}
    return Response(json.dumps(body), media_type="application/json")
