#!/usr/bin/python3
"""Peer for tests/bench/fv-render.sh: the same feature visualization in PyTorch on the CPU.

Loads the TF.js graph model (JSON + .bin, float16 weights decoded with numpy) itself, builds the
subgraph from the `images` placeholder up to one layer with torch ops (NCHW inside: conv2d with TF
SAME padding through F.pad, depthwise through groups), and runs the recipe of fv-render: Fourier
parameterization with 1/f scaling and Lucid's colour decorrelation, sigmoid, *255, the default or
robust transforms (pad, jitter, scale, rotate: affine_grid + grid_sample, bilinear), channel-mean
objective, Adam. Prints the seconds of the optimization loop and the final objective.

Batch mode (tests/bench/fv-render-batch.sh): CHANNEL may be a comma-separated list, one image
per channel optimized together (as fv-render's recipe with "batch" and one channel objective per
batch element): one forward and backward pass of the whole batch per step, the same random
transforms for every image (as fv-render draws them), the objective the sum of each image's
channel mean.

Diversity (tests/bench/fv-render-diversity.sh): a ninth argument W subtracts W times the batch's
diversity term as fv-render's recipe defines it (pipeline/fv/RECIPE.md): the mean over ordered
pairs i != j of the cosine similarity of the layer's Gram matrices, computed as a PyTorch user
would (one einsum for the Grams, one matrix product for the pairs).

usage: fv_render_torch.py MODEL_JSON MODEL_BIN LAYER CHANNEL[,CHANNEL...] SIZE STEPS THREADS [robust|default] [W]
"""
import base64
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_weights(model, bin_path):
    raw = open(bin_path, "rb").read()
    out, off = {}, 0
    for group in model["weightsManifest"]:
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q and q["dtype"] == "float16":
                a = np.frombuffer(raw, "<f2", n, off).astype(np.float32)
                off += 2 * n
            elif w["dtype"] == "int32":
                a = np.frombuffer(raw, "<i4", n, off).copy()
                off += 4 * n
            else:
                a = np.frombuffer(raw, "<f4", n, off).copy()
                off += 4 * n
            out[w["name"]] = a.reshape(w["shape"])
    assert off == len(raw), "weights do not add up to the .bin size"
    return out


def attr_list_i(node, key):
    return [int(x) for x in node["attr"][key]["list"].get("i", [])]


def attr_ops(node):
    return [base64.b64decode(s).decode() for s in node["attr"].get("fused_ops", {}).get("list", {}).get("s", [])]


def same_pad(x, k, s):
    """TF SAME padding for NCHW x, square kernel k, stride s (asymmetric: more after)."""
    h, w = x.shape[2], x.shape[3]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class Subgraph(torch.nn.Module):
    def __init__(self, model, weights, target):
        super().__init__()
        self.nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
        self.order, seen = [], set()

        def visit(name):
            name = name.split(":")[0].lstrip("^")
            if name in seen:
                return
            seen.add(name)
            for i in self.nodes[name].get("input", []):
                visit(i)
            self.order.append(name)

        visit(target)
        self.target = target
        self.consts = {}
        for name in self.order:
            n = self.nodes[name]
            if n["op"] == "Const":
                self.consts[name] = torch.from_numpy(np.array(weights[name]))
        # pre-layout conv weights
        self.params = {}
        for name in self.order:
            n = self.nodes[name]
            if n["op"] in ("_FusedConv2D", "Conv2D"):
                w = self.consts[n["input"][1]]  # HWIO
                self.params[name] = w.permute(3, 2, 0, 1).contiguous().float()
            elif n["op"] in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                w = self.consts[n["input"][1]]  # H W C M
                kh, kw, c, m = w.shape
                self.params[name] = w.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1).contiguous().float()

    def const_nchw(self, t):
        t = t.float()
        if t.dim() == 1 and t.numel() > 1:
            return t.view(1, -1, 1, 1)
        if t.dim() == 4:
            return t.permute(0, 3, 1, 2)
        return t

    def forward(self, x_nhwc):
        vals = {}
        for name in self.order:
            n = self.nodes[name]
            op = n["op"]
            ins = [i.split(":")[0] for i in n.get("input", []) if not i.startswith("^")]

            def get(i):
                return vals[i] if i in vals else self.const_nchw(self.consts[i])

            if op == "Const":
                continue
            if op == "Placeholder":
                vals[name] = x_nhwc.permute(0, 3, 1, 2)
            elif op in ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                w = self.params[name]
                s = attr_list_i(n, "strides")[1]
                k = w.shape[2]
                x = same_pad(get(ins[0]), k, s)
                groups = x.shape[1] if "Depthwise" in op else 1
                bias = self.consts[ins[2]].float() if op.startswith("Fused") or op == "_FusedConv2D" else None
                y = F.conv2d(x, w, bias, stride=s, groups=groups)
                ops = attr_ops(n)
                if "Relu" in ops:
                    y = F.relu(y)
                if "Relu6" in ops:
                    y = torch.clamp(y, 0, 6)
                vals[name] = y
            elif op in ("Add", "AddV2"):
                vals[name] = get(ins[0]) + get(ins[1])
            elif op == "Mul":
                vals[name] = get(ins[0]) * get(ins[1])
            elif op == "Relu":
                vals[name] = F.relu(get(ins[0]))
            elif op == "Relu6":
                vals[name] = torch.clamp(get(ins[0]), 0, 6)
            elif op == "Sigmoid":
                vals[name] = torch.sigmoid(get(ins[0]))
            elif op == "Identity":
                vals[name] = get(ins[0])
            elif op == "Mean":
                axes = [int(a) for a in np.array(self.consts[ins[1]]).reshape(-1)]
                assert sorted(axes) == [1, 2], axes
                vals[name] = get(ins[0]).mean((2, 3), keepdim=True)
            else:
                raise SystemExit("unsupported op %s (%s)" % (op, name))
        return vals[self.target]


COLOR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR = torch.from_numpy(COLOR / np.max(np.linalg.norm(COLOR, axis=0)))


def fourier_scale(h, w):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + 1]
    f = np.sqrt(fx * fx + fy * fy)
    s = 1.0 / np.maximum(f, 1.0 / max(h, w)) * np.sqrt(w * h)
    return torch.from_numpy(s.astype(np.float32))


def sample(img, s, deg):
    """Zoom by s and rotate by deg about the centre, same size, bilinear, grey outside (NCHW)."""
    th = math.radians(deg)
    c, sn = math.cos(th) / s, math.sin(th) / s
    n, _, h, w = img.shape
    theta = torch.tensor([[c, sn * h / w, 0.0], [-sn * w / h, c, 0.0]], dtype=torch.float32).expand(n, 2, 3)
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    return F.grid_sample(img - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5


def main():
    json_path, bin_path, layer, channel, size, steps, threads = sys.argv[1:8]
    preset = sys.argv[8] if len(sys.argv) > 8 else "default"
    div = float(sys.argv[9]) if len(sys.argv) > 9 else 0.0
    channels = [int(c) for c in channel.split(",")]
    batch, size, steps, threads = len(channels), int(size), int(steps), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    model = json.load(open(json_path))
    net = Subgraph(model, load_weights(model, bin_path), layer)
    if preset == "robust":
        pad, j1, scales, rot, j2 = 16, 16, [1 + (i - 5) / 50 for i in range(11)], 10, 8
    else:
        pad, j1, scales, rot, j2 = 12, 8, [1, 0.975, 1.025, 0.95, 1.05], 5, 4
    scale = fourier_scale(size, size)
    spec = (0.01 * torch.randn(batch, 3, size, size // 2 + 1, 2)).requires_grad_(True)
    opt = torch.optim.Adam([spec], lr=0.05, betas=(0.9, 0.999), eps=1e-8)

    def image():
        z = torch.view_as_complex(spec) * scale
        t = torch.fft.irfft2(z, s=(size, size)) / 4.0  # (batch,3,H,W)
        t = torch.einsum("ij,njhw->nihw", COLOR, t)
        return torch.sigmoid(t)

    t0 = time.time()
    for step in range(steps):
        opt.zero_grad()
        x = F.pad(image(), (pad, pad, pad, pad), value=0.5)
        oy, ox = rng.integers(0, j1 + 1, 2)
        x = x[:, :, oy : oy + x.shape[2] - j1, ox : ox + x.shape[3] - j1]
        x = sample(x, float(rng.choice(scales)), float(rng.uniform(-rot, rot)))
        oy, ox = rng.integers(0, j2 + 1, 2)
        x = x[:, :, oy : oy + x.shape[2] - j2, ox : ox + x.shape[3] - j2]
        act = net((x * 255.0).permute(0, 2, 3, 1))
        obj = sum(act[b, c].mean() for b, c in enumerate(channels))
        if div:
            g = torch.einsum("nchw,ndhw->ncd", act, act).flatten(1)
            g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-10)
            s = g @ g.T
            obj = obj - div * (s.sum() - s.diagonal().sum()) / (batch * (batch - 1))
        (-obj).backward()
        opt.step()
    dt = time.time() - t0
    print("seconds %.3f objective %.4f" % (dt, obj.item()))


if __name__ == "__main__":
    main()
