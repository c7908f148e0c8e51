#!/usr/bin/env python3
"""Builds the ONNX models Scoreflow ships and tests with, and their expected scores.

Run once, by hand, from the repository root (the outputs are committed, so nothing at build or test time needs
Python):

    python3 models/make_models.py

Needs numpy, scikit-learn, onnx and onnxruntime. skl2onnx is not available here, so each scikit-learn model is
written with onnx.helper as the ai.onnx.ml operators skl2onnx emits (LinearClassifier, TreeEnsembleClassifier +
ZipMap, TreeEnsembleRegressor). Every model is checked against scikit-learn, and the expected scores written are
onnxruntime's (the contract: Scoreflow's scores equal ONNX Runtime's).

Outputs:
  models/example/1/model.onnx         the bundled example: is a 26-letter frequency vector English text?
  models/example/1/model.json         its Scoreflow settings
  models/example/1/sample-input.f32   1,000 rows x 26 features, float32 little-endian
  models/example/1/sample-scores.f32  onnxruntime's P(English) for them
  models/fraud/1/...                  the stream scorer's bundled model: P(fraud) of a card transaction from
                                      models/fraud/features.txt (a random forest on 300,000 events that
                                      `scoreflow produce` generates, their features from `scoreflow features`)
  scoreflow-runtime/src/test/resources/models/<name>/1/...   test models, same layout
  .../<name>/1/sample-<output>.<f32|f64|i64|i32|bool|txt>     every output of the models served through V2's
                                      outputs (iris, multitarget, embedding): onnxruntime's values for the sample
                                      rows, row-major, little-endian (bool: one byte each; txt: one label a line);
                                      a ZipMap output as float32 [rows, classes], classes in ascending label order

    python3 models/make_models.py iris embedding    # only the named models
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST = os.path.join(ROOT, "scoreflow-runtime", "src", "test", "resources", "models")
ML = helper.make_operatorsetid("ai.onnx.ml", 3)
OPSET = [helper.make_operatorsetid("", 17), ML]

# English letter frequencies (a..z), the classic table
ENGLISH = np.array([8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4, 6.7, 7.5, 1.9, 0.095,
                    6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074])
ENGLISH = ENGLISH / ENGLISH.sum()


def save(model, path, rows, scores, config=None):
    os.makedirs(path, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(path, "model.onnx"))
    rows.astype("<f4").tofile(os.path.join(path, "sample-input.f32"))
    scores.astype("<f4").tofile(os.path.join(path, "sample-scores.f32"))
    if config is not None:
        with open(os.path.join(path, "model.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    print(f"{path}: {os.path.getsize(os.path.join(path, 'model.onnx'))} bytes, {len(rows)} sample rows")


def run(model, x, output):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run([output], {sess.get_inputs()[0].name: x})[0]


def letter_frequencies(rng, n, english):
    """Frequency vectors of n texts of 40-400 letters, drawn from English's distribution or a random one."""
    out = np.zeros((n, 26), dtype=np.float32)
    for i in range(n):
        length = rng.integers(40, 400)
        p = ENGLISH if english[i] else rng.dirichlet(np.ones(26) * 2)
        counts = rng.multinomial(length, p)
        out[i] = counts / length
    return out


def linear_classifier(coef, intercept, n_features, post="LOGISTIC", zipmap=False):
    """LinearClassifier as skl2onnx writes a scikit-learn LogisticRegression (binary: coefficients of both classes)."""
    classes = coef.shape[0] if coef.shape[0] > 1 else 2
    if coef.shape[0] == 1:
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, n_features])
    label = helper.make_tensor_value_info("output_label", TensorProto.INT64, [None])
    node = helper.make_node("LinearClassifier", ["float_input"], ["output_label", "output_probability"],
                            domain="ai.onnx.ml", coefficients=coef.astype(np.float32).ravel().tolist(),
                            intercepts=intercept.astype(np.float32).tolist(),
                            classlabels_ints=list(range(classes)), post_transform=post, multi_class=0)
    prob = helper.make_tensor_value_info("output_probability", TensorProto.FLOAT, [None, classes])
    graph = helper.make_graph([node], "linear_classifier", [x], [label, prob])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


def float_floor(t):
    """The largest float32 <= t: ONNX keeps thresholds as float32, and for float32 inputs x <= t exactly when
    x <= float_floor(t) (rounding to nearest instead sends values just above t down the wrong branch)."""
    f = np.float32(t)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def tree_nodes(estimators, prefix):
    """Flattens scikit-learn trees into the node attributes of TreeEnsemble*."""
    a = {k: [] for k in ["treeids", "nodeids", "featureids", "values", "modes", "truenodeids", "falsenodeids"]}
    leaves = []
    for t, est in enumerate(estimators):
        tree = est.tree_
        for n in range(tree.node_count):
            a["treeids"].append(t)
            a["nodeids"].append(n)
            left, right = tree.children_left[n], tree.children_right[n]
            if left == -1:
                a["featureids"].append(0); a["values"].append(0.0); a["modes"].append("LEAF")
                a["truenodeids"].append(0); a["falsenodeids"].append(0)
                leaves.append((t, n, tree.value[n][0]))
            else:
                a["featureids"].append(int(tree.feature[n])); a["values"].append(float_floor(tree.threshold[n]))
                a["modes"].append("BRANCH_LEQ"); a["truenodeids"].append(int(left)); a["falsenodeids"].append(int(right))
    return {prefix + k: v for k, v in a.items()}, leaves


def forest_classifier(rf, n_features):
    attrs, leaves = tree_nodes(rf.estimators_, "nodes_")
    ids, nodes, cls, weights = [], [], [], []
    for t, n, value in leaves:
        p = value / value.sum()
        for c in range(len(p)):
            ids.append(t); nodes.append(n); cls.append(c); weights.append(float(p[c]) / len(rf.estimators_))
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n_features])
    trees = helper.make_node("TreeEnsembleClassifier", ["input"], ["output_label", "probabilities"],
                             domain="ai.onnx.ml", class_treeids=ids, class_nodeids=nodes, class_ids=cls,
                             class_weights=weights, classlabels_int64s=[0, 1], post_transform="NONE", **attrs)
    zipmap = helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain="ai.onnx.ml",
                              classlabels_int64s=[0, 1])
    label = helper.make_tensor_value_info("output_label", TensorProto.INT64, [None])
    prob = helper.make_value_info("output_probability", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    graph = helper.make_graph([trees, zipmap], "random_forest", [x], [label, prob])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


def forest_regressor(rf, n_features):
    attrs, leaves = tree_nodes(rf.estimators_, "nodes_")
    ids, nodes, weights = [], [], []
    for t, n, value in leaves:
        ids.append(t); nodes.append(n); weights.append(float(value[0]) / len(rf.estimators_))
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n_features])
    node = helper.make_node("TreeEnsembleRegressor", ["input"], ["variable"], domain="ai.onnx.ml",
                            target_treeids=ids, target_nodeids=nodes, target_ids=[0] * len(ids),
                            target_weights=weights, n_targets=1, aggregate_function="SUM", **attrs)
    y = helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])
    graph = helper.make_graph([node], "random_forest_regressor", [x], [y])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


EXTENSIONS = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int64): "i64",
              np.dtype(np.int32): "i32", np.dtype(np.bool_): "bool"}


def save_outputs(model, path):
    """Writes every output of the model for its sample rows as onnxruntime computes them (see the module doc)."""
    x = np.fromfile(os.path.join(path, "sample-input.f32"), dtype="<f4")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = x.reshape(-1, sess.get_inputs()[0].shape[1])
    names = [o.name for o in sess.get_outputs()]
    for name, value in zip(names, sess.run(names, {sess.get_inputs()[0].name: x})):
        if isinstance(value, list):  # ZipMap: a list of {label: probability}, one per row
            labels = sorted(value[0].keys())
            value = np.array([[row[label] for label in labels] for row in value], dtype=np.float32)
            print(f"{path}: {name} ZipMap labels {labels}")
        value = np.asarray(value)
        if value.dtype.kind in "OUS":
            with open(os.path.join(path, f"sample-{name}.txt"), "w", encoding="utf-8") as f:
                for label in value.ravel():
                    f.write(str(label) + "\n")
        else:
            value.astype(value.dtype.newbyteorder("<")).tofile(
                os.path.join(path, f"sample-{name}.{EXTENSIONS[value.dtype]}"))
        print(f"{path}: {name} {value.dtype} {list(value.shape)}")


def zipmap_classifier(coef, intercept, n_features, labels):
    """LinearClassifier + ZipMap as skl2onnx writes a multiclass LogisticRegression with string class labels."""
    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, n_features])
    node = helper.make_node("LinearClassifier", ["float_input"], ["output_label", "probability_tensor"],
                            domain="ai.onnx.ml", coefficients=coef.astype(np.float32).ravel().tolist(),
                            intercepts=intercept.astype(np.float32).tolist(), classlabels_strings=labels,
                            post_transform="SOFTMAX", multi_class=0)
    zipmap = helper.make_node("ZipMap", ["probability_tensor"], ["output_probability"], domain="ai.onnx.ml",
                              classlabels_strings=labels)
    label = helper.make_tensor_value_info("output_label", TensorProto.STRING, [None])
    prob = helper.make_value_info("output_probability", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    graph = helper.make_graph([node, zipmap], "iris_classifier", [x], [label, prob])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


def multitarget_regressor(coef, intercept, n_features):
    """LinearRegressor with two targets [N, 2], and outputs of every other datatype Scoreflow serves, derived from
    their sum: total FP32 [N, 1], total_fp64 FP64, positive BOOL, bucket INT32 (floor(total / 100)), and
    total_int64 INT64."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n_features])
    nodes = [
        helper.make_node("LinearRegressor", ["input"], ["targets"], domain="ai.onnx.ml",
                         coefficients=coef.astype(np.float32).ravel().tolist(),
                         intercepts=intercept.astype(np.float32).tolist(), targets=coef.shape[0]),
        helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("axes", TensorProto.INT64, [1], [1])),
        helper.make_node("ReduceSum", ["targets", "axes"], ["total"], keepdims=1),
        helper.make_node("Cast", ["total"], ["total_fp64"], to=TensorProto.DOUBLE),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Greater", ["total", "zero"], ["positive"]),
        helper.make_node("Constant", [], ["hundred"],
                         value=helper.make_tensor("hundred", TensorProto.FLOAT, [], [100.0])),
        helper.make_node("Div", ["total", "hundred"], ["scaled"]),
        helper.make_node("Floor", ["scaled"], ["floored"]),
        helper.make_node("Cast", ["floored"], ["bucket"], to=TensorProto.INT32),
        helper.make_node("Cast", ["floored"], ["total_int64"], to=TensorProto.INT64),
    ]
    outputs = [helper.make_tensor_value_info("targets", TensorProto.FLOAT, [None, coef.shape[0]]),
               helper.make_tensor_value_info("total", TensorProto.FLOAT, [None, 1]),
               helper.make_tensor_value_info("total_fp64", TensorProto.DOUBLE, [None, 1]),
               helper.make_tensor_value_info("positive", TensorProto.BOOL, [None, 1]),
               helper.make_tensor_value_info("bucket", TensorProto.INT32, [None, 1]),
               helper.make_tensor_value_info("total_int64", TensorProto.INT64, [None, 1])]
    graph = helper.make_graph(nodes, "multitarget_regressor", [x], outputs)
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


def embedding(weights, bias):
    """An embedding-like model: tanh(x W + b), [N, 16] -> [N, 8]."""
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, weights.shape[0]])
    w = helper.make_tensor("W", TensorProto.FLOAT, list(weights.shape), weights.astype(np.float32).ravel().tolist())
    b = helper.make_tensor("b", TensorProto.FLOAT, [weights.shape[1]], bias.astype(np.float32).tolist())
    nodes = [helper.make_node("MatMul", ["features", "W"], ["projected"]),
             helper.make_node("Add", ["projected", "b"], ["shifted"]),
             helper.make_node("Tanh", ["shifted"], ["embedding"])]
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, weights.shape[1]])
    graph = helper.make_graph(nodes, "embedding", [x], [y], initializer=[w, b])
    return helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")


def check(name, ours, sklearn, tol):
    diff = float(np.max(np.abs(ours - sklearn)))
    print(f"{name}: onnxruntime vs scikit-learn max|diff| = {diff:.3g}")
    assert diff <= tol, name


def main(only):
    if not only or "example" in only or "forest" in only or "regressor" in only or "multiclass" in only:
        original(np.random.default_rng(26))
    if not only or "iris" in only:
        iris()
    if not only or "multitarget" in only:
        multitarget()
    if not only or "embedding" in only:
        embedding_model()
    if not only or "fraud" in only:
        fraud()
    if not only or "slow" in only:
        slow()


def slow():
    # a deliberately slow model for capacity tests (scoreflow-plan's replay): the same 8x8 layer applied 4,000
    # times in an ONNX Loop, a few milliseconds per call whatever the batch, so one server's rate is low and known
    # after a measurement; its score is a real function of the input (the mean of the last layer)
    rng = np.random.default_rng(8)
    w = (rng.standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("MatMul", ["x_in", "w"], ["xw"]),
         helper.make_node("Tanh", ["xw"], ["x_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "layer",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 8], w.flatten().tolist())])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "input"], ["looped"], body=body),
         helper.make_node("ReduceMean", ["looped"], ["score"], axes=[1], keepdims=1)],
        "slow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("trips", TensorProto.INT64, [], [4000]),
         helper.make_tensor("cond", TensorProto.BOOL, [], [True])])
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="scoreflow-make_models")
    onnx.checker.check_model(model)
    sample = rng.random((100, 8)).astype(np.float32)
    scores = run(model, sample, "score")[:, 0]
    save(model, os.path.join(ROOT, "scoreflow-plan", "src", "test", "resources", "models", "slow", "1"), sample,
         scores, {"description": "a deliberately slow model (4,000 8x8 layers in an ONNX Loop) for capacity tests",
                  "output": "score"})


def original(rng):

    # the bundled example: English vs random letter frequencies, logistic regression
    english = rng.random(6000) < 0.5
    x = letter_frequencies(rng, 6000, english)
    lr = LogisticRegression(C=50.0, max_iter=2000).fit(x[:5000], english[:5000])
    model = linear_classifier(lr.coef_, lr.intercept_, 26)
    sample = x[5000:]
    scores = run(model, sample, "output_probability")[:, 1]
    check("example", scores, lr.predict_proba(sample)[:, 1], 1e-5)
    print(f"example: accuracy on held-out rows {np.mean((scores > 0.5) == english[5000:]):.3f}")
    save(model, os.path.join(ROOT, "models", "example", "1"), sample, scores,
         {"description": "P(text is English) from 26 Latin-letter frequencies (a..z, each count / letters)",
          "output": "output_probability", "threshold": 0.5})

    # a random forest exported the way skl2onnx does it by default: TreeEnsembleClassifier + ZipMap
    x, y = make_classification(n_samples=3000, n_features=20, n_informative=8, random_state=7)
    x = x.astype(np.float32)
    rf = RandomForestClassifier(n_estimators=12, max_depth=6, random_state=7).fit(x[:2000], y[:2000])
    model = forest_classifier(rf, 20)
    sample = x[2000:]
    maps = run(model, sample, "output_probability")
    scores = np.array([m[1] for m in maps], dtype=np.float32)
    check("forest", scores, rf.predict_proba(sample)[:, 1], 1e-5)
    save(model, os.path.join(TEST, "forest", "1"), sample, scores)

    # a random forest regressor: one output [N, 1]
    x, y = make_regression(n_samples=2000, n_features=10, noise=0.1, random_state=3)
    x = x.astype(np.float32)
    rfr = RandomForestRegressor(n_estimators=6, max_depth=5, random_state=3).fit(x[:1500], y[:1500])
    model = forest_regressor(rfr, 10)
    sample = x[1500:]
    scores = run(model, sample, "variable")[:, 0]
    check("regressor", scores, rfr.predict(sample), 1e-3)
    save(model, os.path.join(TEST, "regressor", "1"), sample, scores)

    # three classes: Scoreflow refuses it unless model.json names the class column
    x, y = make_classification(n_samples=1500, n_features=8, n_informative=5, n_classes=3, random_state=5)
    x = x.astype(np.float32)
    lr3 = LogisticRegression(max_iter=2000).fit(x[:1000], y[:1000])
    model = linear_classifier(lr3.coef_, lr3.intercept_, 8, post="SOFTMAX")
    sample = x[1000:]
    scores = run(model, sample, "output_probability")[:, 2]
    check("multiclass", scores, lr3.predict_proba(sample)[:, 2], 1e-5)
    save(model, os.path.join(TEST, "multiclass", "1"), sample, scores)
    save_outputs(model, os.path.join(TEST, "multiclass", "1"))


def iris():
    # three classes with string labels, LinearClassifier + ZipMap: output_label is a string tensor (V2 BYTES),
    # output_probability a ZipMap (V2 FP32 [N, 3]); no score unless model.json names a column
    data = load_iris()
    labels = [str(n) for n in data.target_names]
    x = data.data.astype(np.float32)
    order = np.random.default_rng(4).permutation(len(x))
    x, y = x[order], data.target[order]
    lr = LogisticRegression(max_iter=2000).fit(x[:100], y[:100])
    model = zipmap_classifier(lr.coef_, lr.intercept_, 4, labels)
    sample = x[100:]
    maps = run(model, sample, "output_probability")
    proba = np.array([[m[label] for label in labels] for m in maps], dtype=np.float32)
    check("iris", proba, lr.predict_proba(sample), 1e-5)
    path = os.path.join(TEST, "iris", "1")
    save(model, path, sample, proba[:, 2])
    os.remove(os.path.join(path, "sample-scores.f32"))  # no score: its outputs are what it serves
    save_outputs(model, path)


def multitarget():
    # a linear regressor of two targets, and outputs of every datatype derived from their sum; model.json makes
    # "total" the score
    x, y = make_regression(n_samples=600, n_features=6, n_targets=2, noise=0.5, random_state=11)
    x = x.astype(np.float32)
    lin = LinearRegression().fit(x[:400], y[:400])
    model = multitarget_regressor(lin.coef_, lin.intercept_, 6)
    sample = x[400:]
    check("multitarget", run(model, sample, "targets"), lin.predict(sample), 1e-3)
    path = os.path.join(TEST, "multitarget", "1")
    save(model, path, sample, run(model, sample, "total")[:, 0],
         {"output": "total", "description": "sum of two linear targets"})
    save_outputs(model, path)


def embedding_model():
    # [N, 16] -> [N, 8] float embedding: no score; V2 serves the embedding
    rng = np.random.default_rng(16)
    weights = rng.normal(0, 0.5, (16, 8))
    bias = rng.normal(0, 0.1, 8)
    model = embedding(weights, bias)
    sample = rng.normal(0, 1, (200, 16)).astype(np.float32)
    check("embedding", run(model, sample, "embedding"), np.tanh(sample.astype(np.float64) @ weights + bias), 1e-5)
    path = os.path.join(TEST, "embedding", "1")
    save(model, path, sample, np.zeros(0, dtype=np.float32))
    os.remove(os.path.join(path, "sample-scores.f32"))
    save_outputs(model, path)




def fraud():
    """The bundled fraud model, trained on exactly what the stream computes: the generator's transactions (seed 7,
    1000 events per second of event time, 2000 cards) and their features from the same Java code the stream runs."""
    import csv
    import subprocess
    import tempfile
    from sklearn.metrics import roc_auc_score
    launcher = os.path.join(ROOT, "scoreflow")
    features = os.path.join(ROOT, "models", "fraud", "features.txt")
    with tempfile.TemporaryDirectory() as tmp:
        events, table = os.path.join(tmp, "events.jsonl"), os.path.join(tmp, "train.csv")
        subprocess.run([launcher, "produce", "--to-file", events, "--count", "300000", "--event-rate", "1000",
                        "--start-time", "1767225600000", "--cards", "2000", "--seed", "7"], check=True)
        subprocess.run([launcher, "features", "--input", events, "--features", features, "--output", table,
                        "--keep", "label"], check=True)
        with open(table) as f:
            rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    x = np.array([[float(v) for v in r[1:-1]] for r in body], dtype=np.float32)
    y = np.array([int(r[-1]) for r in body])
    n_features = x.shape[1]
    split = 240000
    rf = RandomForestClassifier(n_estimators=30, max_depth=8, min_samples_leaf=20, random_state=7, n_jobs=2)
    rf.fit(x[:split], y[:split])
    model = forest_classifier(rf, n_features)
    test = x[split:]
    maps = run(model, test, "output_probability")
    scores = np.array([m[1] for m in maps], dtype=np.float32)
    check("fraud", scores, rf.predict_proba(test)[:, 1], 1e-5)
    pred = scores >= 0.5
    truth = y[split:] == 1
    print(f"fraud: {n_features} features {header[1:-1]}; held-out AUC {roc_auc_score(truth, scores):.4f}, "
          f"precision {np.sum(pred & truth) / max(1, np.sum(pred)):.3f}, recall {np.sum(pred & truth) / max(1, np.sum(truth)):.3f}"
          f" at 0.5; fraud rate {truth.mean():.4f}")
    save(model, os.path.join(ROOT, "models", "fraud", "1"), test[:2000], scores[:2000],
         {"description": "P(card transaction is fraud) from models/fraud/features.txt (random forest, 30 trees)",
          "output": "output_probability", "threshold": 0.5})


if __name__ == "__main__":
    main(set(sys.argv[1:]))
