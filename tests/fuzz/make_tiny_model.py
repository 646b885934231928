#!/usr/bin/env python3
"""Writes the tiny TF.js graph model the nn fuzz targets start from: tiny-model.json and
tiny-model.bin in this directory (run from anywhere; needs only the standard library).

Graph: input (1,4,4,3) -> _FusedConv2D 1x1, 3->2 (float16 weights, float32 bias, Relu)
-> MaxPool 2x2 -> Reshape to (-1, 8) (int32 shape) -> MatMul 8->2 -> Sigmoid, plus a Mean.
One weight of each stored kind: float16-quantized, float32 and int32."""
import base64, json, os, struct

here = os.path.dirname(os.path.abspath(__file__))
b64 = lambda s: base64.b64encode(s.encode()).decode()
ilist = lambda *v: {"list": {"i": [str(x) for x in v]}}

def const(name, dims, dtype):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}, "value": {"tensor": {
        "dtype": dtype, "tensorShape": {"dim": [{"size": str(d)} for d in dims]}}}}}

nodes = [
    {"name": "input", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [
        {"size": "-1"}, {"size": "4"}, {"size": "4"}, {"size": "3"}]}}}},
    const("conv/w", [1, 1, 3, 2], "DT_FLOAT"),
    const("conv/b", [2], "DT_FLOAT"),
    {"name": "conv", "op": "_FusedConv2D", "input": ["input", "conv/w", "conv/b"], "attr": {
        "strides": ilist(1, 1, 1, 1), "dilations": ilist(1, 1, 1, 1), "padding": {"s": b64("SAME")},
        "data_format": {"s": b64("NHWC")}, "fused_ops": {"list": {"s": [b64("BiasAdd"), b64("Relu")]}},
        "num_args": {"i": "1"}, "T": {"type": "DT_FLOAT"}}},
    {"name": "pool", "op": "MaxPool", "input": ["conv"], "attr": {
        "ksize": ilist(1, 2, 2, 1), "strides": ilist(1, 2, 2, 1), "padding": {"s": b64("VALID")},
        "data_format": {"s": b64("NHWC")}}},
    const("flat/shape", [2], "DT_INT32"),
    {"name": "flat", "op": "Reshape", "input": ["pool", "flat/shape"]},
    const("fc/w", [8, 2], "DT_FLOAT"),
    {"name": "fc", "op": "MatMul", "input": ["flat", "fc/w"], "attr": {
        "transpose_a": {"b": False}, "transpose_b": {"b": False}}},
    {"name": "out", "op": "Sigmoid", "input": ["fc"]},
    const("mean/axes", [2], "DT_INT32"),
    {"name": "mean", "op": "Mean", "input": ["conv", "mean/axes", "^input"], "attr": {"keep_dims": {"b": True}}},
]
weights = [
    ({"name": "conv/w", "shape": [1, 1, 3, 2], "dtype": "float32",
      "quantization": {"dtype": "float16", "original_dtype": "float32"}},
     struct.pack("<6e", 0.5, -1.0, 2.0, 0.25, 6.0e-5, 65504.0)),
    ({"name": "conv/b", "shape": [2], "dtype": "float32"}, struct.pack("<2f", 0.1, -0.2)),
    ({"name": "flat/shape", "shape": [2], "dtype": "int32"}, struct.pack("<2i", -1, 8)),
    ({"name": "fc/w", "shape": [8, 2], "dtype": "float32",
      "quantization": {"dtype": "float16", "original_dtype": "float32"}},
     struct.pack("<16e", *[(i - 8) / 8 for i in range(16)])),
    ({"name": "mean/axes", "shape": [2], "dtype": "int32"}, struct.pack("<2i", 1, 2)),
]
model = {"format": "graph-model", "generatedBy": "make_tiny_model.py", "convertedBy": "hand",
         "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 1}},
         "weightsManifest": [{"paths": ["tiny-model.bin"], "weights": [w for w, _ in weights]}]}
with open(os.path.join(here, "tiny-model.json"), "w") as f:
    json.dump(model, f, separators=(",", ":"))
with open(os.path.join(here, "tiny-model.bin"), "wb") as f:
    f.write(b"".join(b for _, b in weights))
