# Checks a scoring server against in-process ONNX Runtime on the same model: PUTs a raw float32 body, compares the
# float32 scores (max |diff| <= tolerance), then PUTs a body one byte short of whole rows and expects a 400.
#
#   python check_answers.py URL MODEL.onnx BODY.f32 [TOLERANCE=1e-6]
# Prints one line; exits 1 on a wrong answer.
import sys
import urllib.error
import urllib.request

import numpy as np
import onnxruntime as ort

N_FEATURES = 100


def put(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> int:
    url, model, body_path = sys.argv[1:4]
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-6
    body = open(body_path, "rb").read()
    x = np.frombuffer(body, dtype="<f4").reshape(-1, N_FEATURES)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x})[0].reshape(-1)
    status, answer = put(url, body)
    if status != 200 or len(answer) != 4 * len(x):
        print(f"{url}: {len(x)} rows answered {status} with {len(answer)} bytes, expected 200 with {4 * len(x)}")
        return 1
    diff = float(np.max(np.abs(np.frombuffer(answer, dtype="<f4") - want)))
    bad_status, bad_answer = put(url, body[:-1])
    ok = diff <= tol and bad_status == 400
    print(f"{url}: {len(x)} rows, max|diff| vs in-process onnxruntime = {diff:.3g} (tolerance {tol:g}); "
          f"{len(body) - 1}-byte body -> {bad_status} {bad_answer[:100]!r} -> {'OK' if ok else 'WRONG'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
