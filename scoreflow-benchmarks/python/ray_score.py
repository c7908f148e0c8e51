# Ray Serve scoring service on ONNX Runtime: a local Ray (num_cpus = cores), one Serve deployment with one replica
# per core, Serve's HTTP proxy on a fixed port. Runs in the foreground until SIGTERM/SIGINT, then shuts Serve and
# Ray down (load.sh then kills whatever is left of its session).
#
#   python ray_score.py --model /tmp/seed-baseline/models/mlp.onnx --port 8094 [--replicas N] [--temp-dir DIR]
#
# Same HTTP contract as the seed service and Scoreflow: PUT /score, body = rows x 100 little-endian float32,
# answer = rows little-endian float32 scores (application/octet-stream); 400 with a plain-text reason for an empty
# body or one that is not a whole number of rows. The body is read raw from the starlette Request.
# Every request goes through Serve's one HTTP proxy process, which hands it to a replica with Ray actor calls (and
# probes the replicas' queue lengths): on a small machine that proxy, not the model, bounds the throughput.
import argparse
import os
import signal
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

N_FEATURES = int(os.environ.get("SCORE_FEATURES", "100"))
ROW_BYTES = 4 * N_FEATURES


def bad_body(n: int) -> str | None:
    if n == 0:
        return f"empty body: expected rows of {N_FEATURES} little-endian float32 values ({ROW_BYTES} bytes per row)\n"
    if n % ROW_BYTES:
        return (f"body has {n} bytes, which is not a multiple of 4 x {N_FEATURES} features = {ROW_BYTES} bytes per "
                f"row ({n // ROW_BYTES} whole rows and {n % ROW_BYTES} bytes left over)\n")
    return None


# Each replica is an actor holding one CPU (Serve's default ray_actor_options), so num_replicas = cores fills the
# cores; access logs off, like gunicorn's default and the other servers in the benchmark.
@serve.deployment(ray_actor_options={"num_cpus": 1}, logging_config={"enable_access_log": False})
class Scorer:
    def __init__(self, model_path: str):
        so = ort.SessionOptions()
        # one replica per core: one intra-op and one inter-op thread per replica, no oversubscription
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name      # "features"
        self.output = self.session.get_outputs()[0].name    # "score"

    async def __call__(self, request: Request) -> Response:
        if request.method != "PUT":
            return PlainTextResponse("use PUT /score\n", status_code=405, headers={"Allow": "PUT"})
        body = await request.body()
        reason = bad_body(len(body))
        if reason:
            return PlainTextResponse(reason, status_code=400)
        x = np.frombuffer(body, dtype="<f4").reshape(-1, N_FEATURES)
        # CPU-bound and short, scored on the replica's event loop (the replica owns one core)
        (y,) = self.session.run([self.output], {self.input: x})
        return Response(np.ascontiguousarray(y, dtype="<f4").tobytes(), media_type="application/octet-stream")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, default=8094)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--replicas", type=int, default=os.cpu_count())
    ap.add_argument("--temp-dir", default=None, help="Ray's session directory root (short path: unix sockets)")
    a = ap.parse_args()

    # Ray runs its worker processes (the replicas and Serve's proxy) at nice 15 so that its own daemons come first;
    # here the load generator shares the cores and would then always win over them: run them at nice 0 like every
    # other server in the benchmark.
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=a.replicas, include_dashboard=False, _temp_dir=a.temp_dir)
    serve.start(http_options={"host": a.host, "port": a.port}, logging_config={"enable_access_log": False})
    serve.run(Scorer.options(num_replicas=a.replicas).bind(os.path.abspath(a.model)),
              name="scorer", route_prefix="/score")
    print(f"ray serve: {a.replicas} replicas of {a.model} on http://{a.host}:{a.port}/score", flush=True)
    stop = threading.Event()  # handlers set after ray.init, which installs its own
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    print("ray serve: stopping", flush=True)
    try:
        serve.shutdown()
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
