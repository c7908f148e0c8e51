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
  scoreflow-runtime/src/test/resources/models/<name>/1/...   test models, same layout
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression

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
                a["featureids"].append(int(tree.feature[n])); a["values"].append(float(tree.threshold[n]))
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


def check(name, ours, sklearn, tol):
    diff = float(np.max(np.abs(ours - sklearn)))
    print(f"{name}: onnxruntime vs scikit-learn max|diff| = {diff:.3g}")
    assert diff <= tol, name


def main():
    rng = np.random.default_rng(26)

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


if __name__ == "__main__":
    main()
