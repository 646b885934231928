#!/usr/bin/env python3
"""Writes a hostile TF.js graph model for the nn cases of the bad-input catalogue, at test time
(some are big: a chain of 400000 nodes is 20 MB of JSON, not committed):

    make_nn_model.py KIND DIR      writes DIR/m.json and DIR/m.bin

The input is the Placeholder 'input' (1,4,4,3) unless the kind says otherwise; the node the
case asks for is 'out'. Kinds:
  placeholder-huge   input (1,100000,100000,3), out = Relu(input)
  resize-huge        out = ResizeBilinear(input, [100000, 100000])
  stride-huge        out = Conv2D 1x1 with strides [1,2147483647,2147483647,1]
  dilation-huge      out = Conv2D 3x3 SAME with dilations [1,1073741824,1,1]
  pool-window-huge   out = MaxPool SAME with ksize [1,1000000,1000000,1] (16 outputs of 10^12 taps each)
  nan-weight         out = Conv2D 1x1 whose float32 filter holds a NaN (element 4)
  inf-weight-f16     out = Conv2D 1x1 whose float16 filter holds -Inf (element 0)
  concat-channels    input (1,1,1,4194304), out = ConcatV2 of the input 100 times
  reshape-overflow   out = Reshape(input, [-1, 2147483647, 2147483647, 2147483647])
  chain-bad-end      400000 Relu nodes from 'input' to 'out', the first one of op FancyOp
  plan-memory        input (1,8192,8192,3), out at the end of a chain of 11 Relu nodes
                     (1 GiB each with its gradient: 22 GiB in all)"""
import base64, json, os, struct, sys

b64 = lambda s: base64.b64encode(s.encode()).decode()
ilist = lambda *v: {"list": {"i": [str(x) for x in v]}}


def placeholder(shape):
    return {"name": "input", "op": "Placeholder",
            "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": str(d)} for d in shape]}}}}


def const(name, dims, dtype):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}, "value": {"tensor": {
        "dtype": dtype, "tensorShape": {"dim": [{"size": str(d)} for d in dims]}}}}}


def conv(name, inputs, strides=(1, 1, 1, 1), dilations=(1, 1, 1, 1), padding="VALID"):
    return {"name": name, "op": "Conv2D", "input": inputs, "attr": {
        "strides": ilist(*strides), "dilations": ilist(*dilations), "padding": {"s": b64(padding)},
        "data_format": {"s": b64("NHWC")}}}


def model(kind):
    """(nodes, [(manifest entry, bytes)])"""
    f32 = lambda name, dims, vals: ({"name": name, "shape": dims, "dtype": "float32"}, struct.pack("<%df" % len(vals), *vals))
    i32 = lambda name, vals: ({"name": name, "shape": [len(vals)], "dtype": "int32"}, struct.pack("<%di" % len(vals), *vals))
    inp = placeholder([1, 4, 4, 3])
    filt = [const("w", [1, 1, 3, 2], "DT_FLOAT")]
    w6 = f32("w", [1, 1, 3, 2], [0.5] * 6)
    if kind == "placeholder-huge":
        return [placeholder([1, 100000, 100000, 3]), {"name": "out", "op": "Relu", "input": ["input"]}], []
    if kind == "resize-huge":
        return [inp, const("size", [2], "DT_INT32"),
                {"name": "out", "op": "ResizeBilinear", "input": ["input", "size"]}], [i32("size", [100000, 100000])]
    if kind == "stride-huge":
        return [inp] + filt + [conv("out", ["input", "w"], strides=(1, 2147483647, 2147483647, 1))], [w6]
    if kind == "dilation-huge":
        return [inp, const("w", [3, 3, 3, 2], "DT_FLOAT"),
                conv("out", ["input", "w"], dilations=(1, 1073741824, 1, 1), padding="SAME")], \
               [f32("w", [3, 3, 3, 2], [0.5] * 54)]
    if kind == "pool-window-huge":
        return [inp, {"name": "out", "op": "MaxPool", "input": ["input"], "attr": {
            "ksize": ilist(1, 1000000, 1000000, 1), "strides": ilist(1, 1, 1, 1), "padding": {"s": b64("SAME")},
            "data_format": {"s": b64("NHWC")}}}], []
    if kind == "nan-weight":
        return [inp] + filt + [conv("out", ["input", "w"])], [f32("w", [1, 1, 3, 2], [0.5, 1, 2, 3, float("nan"), 5])]
    if kind == "inf-weight-f16":
        return [inp] + filt + [conv("out", ["input", "w"])], [
            ({"name": "w", "shape": [1, 1, 3, 2], "dtype": "float32",
              "quantization": {"dtype": "float16", "original_dtype": "float32"}},
             struct.pack("<6e", float("-inf"), 1, 2, 3, 4, 5))]
    if kind == "concat-channels":
        return [placeholder([1, 1, 1, 4194304]), const("axis", [], "DT_INT32"),
                {"name": "out", "op": "ConcatV2", "input": ["input"] * 100 + ["axis"]}], [
            ({"name": "axis", "shape": [], "dtype": "int32"}, struct.pack("<i", 3))]
    if kind == "reshape-overflow":
        return [inp, const("shape", [4], "DT_INT32"), {"name": "out", "op": "Reshape", "input": ["input", "shape"]}], \
               [i32("shape", [-1, 2147483647, 2147483647, 2147483647])]
    if kind == "chain-bad-end":
        n = 400000
        nodes = [inp] + [{"name": "n%d" % i, "op": "Relu", "input": ["n%d" % (i - 1) if i else "input"]} for i in range(n)]
        nodes[1]["op"] = "FancyOp"
        nodes[-1]["name"] = "out"
        return nodes, []
    if kind == "plan-memory":
        nodes = [placeholder([1, 8192, 8192, 3])]
        for i in range(11):
            nodes.append({"name": "out" if i == 10 else "r%d" % i, "op": "Relu", "input": [nodes[-1]["name"]]})
        return nodes, []
    sys.exit("make_nn_model.py: unknown kind '%s'" % kind)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    nodes, weights = model(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    doc = {"format": "graph-model", "generatedBy": "make_nn_model.py", "convertedBy": "hand",
           "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 1}},
           "weightsManifest": [{"paths": ["m.bin"], "weights": [w for w, _ in weights]}]}
    with open(os.path.join(out, "m.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    with open(os.path.join(out, "m.bin"), "wb") as f:
        f.write(b"".join(b for _, b in weights))


main()
