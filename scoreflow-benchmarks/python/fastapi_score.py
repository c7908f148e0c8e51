# FastAPI scoring service on ONNX Runtime, the way a Python user would deploy it today: gunicorn with one
# uvicorn worker per core (uvloop + httptools), each worker its own ONNX Runtime session.
#
#   SCORE_MODEL=/tmp/seed-baseline/models/mlp.onnx \
#     gunicorn -k uvicorn.workers.UvicornWorker -w "$(nproc)" -b 127.0.0.1:8093 --chdir DIR fastapi_score:app
#
# Same HTTP contract as the seed service and Scoreflow: PUT /score, body = rows x 100 little-endian float32,
# answer = rows little-endian float32 scores (application/octet-stream); 400 with a plain-text reason for an empty
# body or one that is not a whole number of rows. The body is read raw (no pydantic, no JSON).
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request, Response

N_FEATURES = int(os.environ.get("SCORE_FEATURES", "100"))
ROW_BYTES = 4 * N_FEATURES


def make_session(path: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    # gunicorn runs one worker process per core, so each worker's ONNX Runtime gets one intra-op and one inter-op
    # thread: the workers together fill the cores without oversubscribing them.
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bad_body(n: int) -> str | None:
    if n == 0:
        return f"empty body: expected rows of {N_FEATURES} little-endian float32 values ({ROW_BYTES} bytes per row)\n"
    if n % ROW_BYTES:
        return (f"body has {n} bytes, which is not a multiple of 4 x {N_FEATURES} features = {ROW_BYTES} bytes per "
                f"row ({n // ROW_BYTES} whole rows and {n % ROW_BYTES} bytes left over)\n")
    return None


session = make_session(os.environ["SCORE_MODEL"])
INPUT = session.get_inputs()[0].name      # "features"
OUTPUT = session.get_outputs()[0].name    # "score"
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.put("/score")
async def score(request: Request) -> Response:
    body = await request.body()
    reason = bad_body(len(body))
    if reason:
        return Response(reason, status_code=400, media_type="text/plain")
    x = np.frombuffer(body, dtype="<f4").reshape(-1, N_FEATURES)
    # Scored on the event loop on purpose: the call is CPU-bound and short (about a millisecond for 1000 rows of
    # the MLP) and the worker owns one core; a threadpool (a plain `def` endpoint) would only add a thread hop
    # and run several one-thread sessions at once on that core.
    (y,) = session.run([OUTPUT], {INPUT: x})
    return Response(np.ascontiguousarray(y, dtype="<f4").tobytes(), media_type="application/octet-stream")
