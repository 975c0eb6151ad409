"""Checks an ONNX file graft export wrote, with Debian's python3-onnx, and
computes its outputs independently: a small numpy interpreter of the graph's
own nodes and initializers (nothing of graft's): Gemm, Mul, Sub, Div, the
activations, BatchNormalization (inference mode), Softmax. Compares the probabilities
with graft predict's (.npy) and prints the max abs difference.

usage: check_onnx.py MODEL.onnx FEATURES.npy PREDICTED.npy
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def run(model, x):
    values = {"input": x}
    for t in model.graph.initializer:
        values[t.name] = numpy_helper.to_array(t)
    for node in model.graph.node:
        a = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
        i = [values[n] for n in node.input]
        op = node.op_type
        if op == "Gemm":
            y = i[0] @ i[1] + i[2]
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Sub":
            y = i[0] - i[1]
        elif op == "Div":
            y = i[0] / i[1]
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Elu":
            y = np.where(i[0] > 0, i[0], a.get("alpha", 1.0) * (np.exp(i[0]) - 1))
        elif op == "Selu":
            y = a["gamma"] * np.where(i[0] > 0, i[0], a["alpha"] * (np.exp(i[0]) - 1))
        elif op == "LeakyRelu":
            y = np.where(i[0] > 0, i[0], a["alpha"] * i[0])
        elif op == "Tanh":
            y = np.tanh(i[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "BatchNormalization":
            # Inference mode on [N, C]: dim 1 holds the channels (the features).
            eps = a.get("epsilon", 1e-5)
            y = (i[0] - i[3]) / np.sqrt(i[4] + eps) * i[1] + i[2]
        elif op == "Softmax":
            e = np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
            y = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        else:
            raise SystemExit("unexpected op " + op)
        values[node.output[0]] = y
    return values


def main():
    model = onnx.load(sys.argv[1])
    onnx.checker.check_model(model)
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    out = {o.name: o for o in inferred.graph.output}
    x = np.load(sys.argv[2]).astype(np.float64)
    dims = [d.dim_value for d in out["probabilities"].type.tensor_type.shape.dim]
    predicted = np.load(sys.argv[3])
    assert dims[1] == predicted.shape[1], (dims, predicted.shape)
    ops = sorted({n.op_type for n in model.graph.node})
    p = run(model, x)["probabilities"]
    print("ops", ",".join(ops))
    print("metadata", {m.key: m.value for m in model.metadata_props})
    print("max_abs_diff %.3g" % np.abs(p - predicted).max())


main()
