"""Small models in the shapes other frameworks export, built with onnx.helper at a given opset.

Each builder returns (nodes, inputs, consts, outputs). They use what exporters emit: shape
arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape), Constant nodes, axes as inputs
from opset 13/18, LayerNormalization from 17 (decomposed before), Gelu from 20 (Erf before).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from onnx_in_parity import rand

I64 = np.int64
F32 = np.float32
N = helper.make_node


def _reduce_mean(opset, x, y, axes):
    if opset >= 18:
        return [N("Constant", [], [f"{y}_axes"], value_ints=axes), N("ReduceMean", [x, f"{y}_axes"], [y])]
    return [N("ReduceMean", [x], [y], axes=axes)]


def _layer_norm(opset, x, y, d, tag):
    consts = {f"{tag}_g": rand(d, seed=11, low=0.5, high=1.5), f"{tag}_b": rand(d, seed=12)}
    if opset >= 17:
        return [N("LayerNormalization", [x, f"{tag}_g", f"{tag}_b"], [y], axis=-1, epsilon=1e-5)], consts
    consts[f"{tag}_eps"] = np.array(1e-5, F32)
    consts[f"{tag}_two"] = np.array(2.0, F32)
    nodes = _reduce_mean(opset, x, f"{tag}_mu", [-1])
    nodes += [N("Sub", [x, f"{tag}_mu"], [f"{tag}_c"]), N("Pow", [f"{tag}_c", f"{tag}_two"], [f"{tag}_sq"])]
    nodes += _reduce_mean(opset, f"{tag}_sq", f"{tag}_var", [-1])
    nodes += [N("Add", [f"{tag}_var", f"{tag}_eps"], [f"{tag}_ve"]), N("Sqrt", [f"{tag}_ve"], [f"{tag}_sd"]),
              N("Div", [f"{tag}_c", f"{tag}_sd"], [f"{tag}_n"]), N("Mul", [f"{tag}_n", f"{tag}_g"], [f"{tag}_s"]),
              N("Add", [f"{tag}_s", f"{tag}_b"], [y])]
    return nodes, consts


def _gelu(opset, x, y, tag):
    if opset >= 20:
        return [N("Gelu", [x], [y])], {}
    consts = {f"{tag}_r2": np.array(math.sqrt(2), F32), f"{tag}_one": np.array(1.0, F32),
              f"{tag}_half": np.array(0.5, F32)}
    return [N("Div", [x, f"{tag}_r2"], [f"{tag}_d"]), N("Erf", [f"{tag}_d"], [f"{tag}_e"]),
            N("Add", [f"{tag}_e", f"{tag}_one"], [f"{tag}_p"]), N("Mul", [x, f"{tag}_p"], [f"{tag}_m"]),
            N("Mul", [f"{tag}_m", f"{tag}_half"], [y])], consts


def transformer(opset: int, batch=2, seq=6, d=16, heads=2):
    """One encoder block: LN, MHA with a padding mask (Where + Expand), residual, FFN with Gelu."""
    dh = d // heads
    consts = {"wq": rand(d, d, seed=1), "wk": rand(d, d, seed=2), "wv": rand(d, d, seed=3),
              "wo": rand(d, d, seed=4), "bo": rand(d, seed=5), "w1": rand(d, 4 * d, seed=6),
              "b1": rand(4 * d, seed=7), "w2": rand(4 * d, d, seed=8), "scale": np.array(math.sqrt(dh), F32),
              "zero": np.array(0, I64), "one": np.array(1, I64), "ax0": np.array([0], I64),
              "heads_dh": np.array([heads, dh], I64), "minus1": np.array([-1], I64), "ninf": np.array(-1e4, F32),
              "fzero": np.array(0.0, F32), "mshape": np.array([batch, 1, seq, seq], I64)}
    nodes, ln1 = _layer_norm(opset, "x", "h", d, "ln1")
    consts.update(ln1)
    # Heads: reshape to (batch, seq, heads, dh) with a target computed from Shape, as exporters do.
    nodes += [N("Shape", ["x"], ["xs"]), N("Gather", ["xs", "zero"], ["b"], axis=0),
              N("Gather", ["xs", "one"], ["s"], axis=0), N("Unsqueeze", ["b", "ax0"], ["b1d"]),
              N("Unsqueeze", ["s", "ax0"], ["s1d"]),
              N("Concat", ["b1d", "s1d", "heads_dh"], ["split_shape"], axis=0),
              N("Concat", ["b1d", "s1d", "minus1"], ["merge_shape"], axis=0)]
    for name in ("q", "k", "v"):
        nodes += [N("MatMul", ["h", f"w{name}"], [f"{name}0"]),
                  N("Reshape", [f"{name}0", "split_shape"], [f"{name}1"]),
                  N("Transpose", [f"{name}1"], [f"{name}h"], perm=[0, 2, 3, 1] if name == "k" else [0, 2, 1, 3])]
    nodes += [N("MatMul", ["qh", "kh"], ["att0"]), N("Div", ["att0", "scale"], ["att1"]),
              N("Cast", ["mask"], ["maskb"], to=9),
              N("Unsqueeze", ["maskb", "m_axes"], ["mask4"]),
              N("Expand", ["mask4", "mshape"], ["maskx"]),
              N("Where", ["maskx", "fzero", "ninf"], ["bias"]), N("Add", ["att1", "bias"], ["att2"]),
              N("Softmax", ["att2"], ["p"], axis=-1), N("MatMul", ["p", "vh"], ["ctx0"]),
              N("Transpose", ["ctx0"], ["ctx1"], perm=[0, 2, 1, 3]),
              N("Reshape", ["ctx1", "merge_shape"], ["ctx2"]), N("MatMul", ["ctx2", "wo"], ["o0"]),
              N("Add", ["o0", "bo"], ["o1"]), N("Add", ["x", "o1"], ["r1"])]
    consts["m_axes"] = np.array([1, 2], I64)
    ln2, c2 = _layer_norm(opset, "r1", "h2", d, "ln2")
    gelu, c3 = _gelu(opset, "f1", "f2", "gelu")
    consts.update(c2)
    consts.update(c3)
    nodes += ln2 + [N("MatMul", ["h2", "w1"], ["f0"]), N("Add", ["f0", "b1"], ["f1"])] + gelu + \
        [N("MatMul", ["f2", "w2"], ["f3"]), N("Add", ["r1", "f3"], ["y"])]
    mask = np.ones((batch, seq), I64)
    mask[1, -2:] = 0
    inputs = {"x": rand(batch, seq, d, seed=20), "mask": mask}
    return nodes, inputs, consts, ["y"]


def _hard_swish(opset, x, y):
    """HardSwish exists from opset 14; exporters emit HardSigmoid(alpha=1/6) * x before."""
    if opset >= 14:
        return [N("HardSwish", [x], [y])]
    return [N("HardSigmoid", [x], [f"{y}_gate"], alpha=1 / 6), N("Mul", [x, f"{y}_gate"], [y])]


def cnn(opset: int):
    """Conv-BN-Relu, a depthwise block with Clip (ReLU6) and HardSwish, pooling and a Gemm head."""
    c = 8
    consts = {"w0": rand(c, 3, 3, 3, seed=1), "bn_s": rand(c, seed=2, low=0.5, high=1.5), "bn_b": rand(c, seed=3),
              "bn_m": rand(c, seed=4), "bn_v": rand(c, seed=5, low=0.5, high=1.5), "dw": rand(c, 1, 3, 3, seed=6),
              "dwb": rand(c, seed=7), "pw": rand(2 * c, c, 1, 1, seed=8), "lo": np.array(0.0, F32),
              "hi": np.array(6.0, F32), "fc_w": rand(10, 2 * c, seed=9), "fc_b": rand(10, seed=10)}
    nodes = [N("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1], strides=[2, 2]),
             N("BatchNormalization", ["c0", "bn_s", "bn_b", "bn_m", "bn_v"], ["b0"]),
             N("Relu", ["b0"], ["r0"]), N("MaxPool", ["r0"], ["p0"], kernel_shape=[3, 3], strides=[2, 2],
                                          pads=[1, 1, 1, 1]),
             N("Conv", ["p0", "dw", "dwb"], ["d0"], group=c, pads=[1, 1, 1, 1]),
             N("Clip", ["d0", "lo", "hi"], ["d1"]),
             N("Conv", ["d1", "pw"], ["e0"])] + _hard_swish(opset, "e0", "e1") + [
             N("GlobalAveragePool", ["e1"], ["g0"]), N("Flatten", ["g0"], ["g1"]),
             N("Gemm", ["g1", "fc_w", "fc_b"], ["y"], transB=1)]
    return nodes, {"x": rand(2, 3, 32, 32, seed=21)}, consts, ["y"]


def decoder(opset: int):
    """ConvTranspose upsampling, then Resize (scales) and a Conv: a segmentation head."""
    consts = {"wt": rand(4, 6, 4, 4, seed=1), "bt": rand(6, seed=2), "roi": np.array([], F32),
              "sc": np.array([1, 1, 2, 2], F32), "w": rand(3, 6, 3, 3, seed=3)}
    nodes = [N("ConvTranspose", ["x", "wt", "bt"], ["u0"], strides=[2, 2], pads=[1, 1, 1, 1]),
             N("Relu", ["u0"], ["u1"]),
             N("Resize", ["u1", "roi", "sc"], ["u2"], mode="linear", coordinate_transformation_mode="half_pixel"),
             N("Conv", ["u2", "w"], ["y"], pads=[1, 1, 1, 1])]
    return nodes, {"x": rand(1, 4, 6, 5, seed=22)}, consts, ["y"]


def lstm(opset: int, seq=7, batch=3, inp=5, hidden=6):
    """An LSTM over a sequence, its last hidden state squeezed and fed to a Gemm classifier."""
    consts = {"W": rand(1, 4 * hidden, inp, seed=1), "R": rand(1, 4 * hidden, hidden, seed=2),
              "B": rand(1, 8 * hidden, seed=3), "fc_w": rand(4, hidden, seed=4), "fc_b": rand(4, seed=5),
              "sq": np.array([0], I64)}
    squeeze = N("Squeeze", ["yh", "sq"], ["h"]) if opset >= 13 else N("Squeeze", ["yh"], ["h"], axes=[0])
    nodes = [N("LSTM", ["x", "W", "R", "B"], ["ys", "yh"], hidden_size=hidden), squeeze,
             N("Gemm", ["h", "fc_w", "fc_b"], ["y"], transB=1)]
    return nodes, {"x": rand(seq, batch, inp, seed=23)}, consts, ["y", "ys"]


def mlp(opset: int):
    """Two inputs concatenated, then Gemm-Relu-Gemm with a Softmax."""
    consts = {"w1": rand(12, 10, seed=1), "b1": rand(12, seed=2), "w2": rand(12, 3, seed=3), "b2": rand(3, seed=4)}
    nodes = [N("Concat", ["a", "b"], ["ab"], axis=1), N("Gemm", ["ab", "w1", "b1"], ["h0"], transB=1),
             N("Relu", ["h0"], ["h1"]), N("MatMul", ["h1", "w2"], ["h2"]), N("Add", ["h2", "b2"], ["h3"]),
             N("Softmax", ["h3"], ["y"], axis=1)]
    return nodes, {"a": rand(4, 6, seed=24), "b": rand(4, 4, seed=25)}, consts, ["y"]


MODELS = {"transformer": transformer, "cnn": cnn, "decoder": decoder, "lstm": lstm, "mlp": mlp}
