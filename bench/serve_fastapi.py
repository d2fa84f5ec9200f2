"""The peer for bench/serve.sh: the seeds' stack in its best configuration.

FastAPI on uvicorn, started by serve.py with one worker process per core and
uvloop + httptools; a scikit-learn classifier loaded with joblib from
$BERTH_BENCH_MODEL; the same JSON in and out as berth's /predict.

Choices, each the fastest we measured that still does the same work (2 cores,
logistic regression, wrk at 64 connections on the same cores):
- two uvicorn workers, one per core: 1 worker gave 3.0k req/s, 2 gave 5.5k,
  3 and 4 gave 5.0k and 4.9k;
- the body is parsed with json.loads on the raw request rather than through
  pydantic request/response models (4.9k req/s with them); a missing or
  non-numeric feature is still refused with 422, as berth refuses it;
- the answer is serialised with json.dumps into a plain Response, skipping
  FastAPI's jsonable_encoder;
- the handler is `async def`, so the prediction runs on the event loop rather
  than hopping to a thread pool: with one process per core the work is
  CPU-bound anyway;
- BLAS/OpenMP use one thread per worker, and the forest predicts with
  n_jobs=None, so nothing oversubscribes the cores.
The row goes through a numpy array and predict_proba, as a typical service does.

    BERTH_BENCH_MODEL=model.joblib uvicorn serve_fastapi:app --workers 2
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import json  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402

model = joblib.load(os.environ["BERTH_BENCH_MODEL"])
if hasattr(model, "n_jobs"):
    model.n_jobs = None
features = [f"f{i}" for i in range(10)]
classes = [str(c) for c in model.classes_]
app = FastAPI()


@app.get("/readyz")
def readyz():
    return {"ready": True}


@app.post("/predict")
async def predict(request: Request):
    try:
        rows = json.loads(await request.body())["instances"]
        x = np.array([[float(r[f]) for f in features] for r in rows], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as e:
        return JSONResponse({"error": str(e)}, status_code=422)
    proba = model.predict_proba(x)
    labels = [classes[i] for i in proba.argmax(axis=1)]
    body = {"predictions": labels, "probabilities": [dict(zip(classes, p.tolist())) for p in proba]}
    return Response(json.dumps(body), media_type="application/json")
