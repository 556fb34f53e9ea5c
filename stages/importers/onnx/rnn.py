"""LSTM, GRU and RNN -> MXNet's fused RNN op, with the weights re-laid out.

Gate order differs: ONNX LSTM stacks i, o, f, c while MXNet uses i, f, c(g), o; ONNX GRU stacks
z, r, h while MXNet uses r, z, n. MXNet wants one flat parameter vector: all weights (per
direction: input then recurrent), then all biases in the same order. MXNet's GRU applies the
reset gate after the recurrent matmul, which is ONNX's linear_before_reset=1; the default
linear_before_reset=0 is unrolled over the (static) sequence with plain ops instead.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from stages.importers.onnx.context import param
from stages.importers.onnx.registry import converter

_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}  # ONNX gate blocks in MXNet order
_MODES = {"LSTM": "lstm", "GRU": "gru"}


def _check(node, ctx, gates: int):
    if ctx.has_input(4):
        lens = ctx.require_const(4, "sequence_lens")
        seq = ctx.shape(0)[1 if ctx.attr("layout", 0) else 0]
        if not np.all(lens == seq):
            raise ctx.unsupported("sequence_lens shorter than the sequence", "MXNet's CPU RNN has no lengths")
    if ctx.attr("clip", None) is not None:
        raise ctx.unsupported("clip")
    if node.op_type == "LSTM":
        if ctx.attr("input_forget", 0):
            raise ctx.unsupported("input_forget=1")
        if ctx.has_input(7) and np.any(ctx.require_const(7, "P") != 0):
            raise ctx.unsupported("peephole weights")
    defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[node.op_type]
    acts = list(ctx.attr("activations", []))
    return acts


def _flat_params(node, ctx, hidden, directions):
    w = ctx.require_const(1, "W").astype(np.float32)
    r = ctx.require_const(2, "R").astype(np.float32)
    gates = w.shape[1] // hidden
    b = ctx.require_const(3, "B").astype(np.float32) if ctx.has_input(3) else \
        np.zeros((directions, 2 * gates * hidden), np.float32)
    order = _ORDER[node.op_type]

    def relayout(m):
        blocks = np.split(m, gates, axis=0)
        return np.concatenate([blocks[k] for k in order], axis=0)

    weights, biases = [], []
    for d in range(directions):
        weights += [relayout(w[d]).reshape(-1), relayout(r[d]).reshape(-1)]
        wb, rb = np.split(b[d], 2)
        biases += [relayout(wb), relayout(rb)]
    return np.concatenate(weights + biases)


def _state(ctx, i, shape, batch_first, tag):
    if ctx.has_input(i):
        s = ctx.input(i)
        return mx.sym.transpose(s, axes=(1, 0, 2)) if batch_first else s
    return mx.sym.zeros(shape, name=ctx.sub(tag))


def _outputs(node, ctx, out, hy, cy, seq, batch, directions, hidden, batch_first):
    y = mx.sym.reshape(out, shape=(seq, batch, directions, hidden))
    y = mx.sym.transpose(y, axes=(1, 0, 2, 3) if batch_first else (0, 2, 1, 3), name=ctx.name)
    if batch_first:
        hy = mx.sym.transpose(hy, axes=(1, 0, 2))
        cy = None if cy is None else mx.sym.transpose(cy, axes=(1, 0, 2))
    return [y, hy] + ([cy] if cy is not None else [])


def _fused(node, ctx, mode):
    batch_first = bool(ctx.attr("layout", 0))
    x = ctx.input(0)
    if batch_first:
        x = mx.sym.transpose(x, axes=(1, 0, 2))
    shape = ctx.shape(0)
    seq, batch = (shape[1], shape[0]) if batch_first else (shape[0], shape[1])
    hidden = int(ctx.attr("hidden_size"))
    directions = 2 if ctx.attr("direction", "forward") == "bidirectional" else 1
    if ctx.attr("direction", "forward") == "reverse":
        x = mx.sym.reverse(x, axis=0)
    flat = param(ctx, _flat_params(node, ctx, hidden, directions), "params")
    state_shape = (directions, batch, hidden)
    h0 = _state(ctx, 5, state_shape, batch_first, "h0")
    extra = {}
    if mode == "lstm":
        extra["state_cell"] = _state(ctx, 6, state_shape, batch_first, "c0")
    rnn = mx.sym.RNN(x, parameters=flat, state=h0, state_size=hidden, num_layers=1,
                     bidirectional=directions == 2, mode=mode, state_outputs=True, name=ctx.sub("rnn"), **extra)
    out, hy = rnn[0], rnn[1]
    cy = rnn[2] if mode == "lstm" else None
    if ctx.attr("direction", "forward") == "reverse":
        out = mx.sym.reverse(out, axis=0)
    return _outputs(node, ctx, out, hy, cy, seq, batch, directions, hidden, batch_first)


@converter("LSTM", since=7)
@converter("LSTM", since=14)
@converter("LSTM", since=22)
def lstm(node, ctx):
    acts = _check(node, ctx, 4)
    if acts and [a.lower() for a in acts] != ["sigmoid", "tanh", "tanh"] * (len(acts) // 3):
        raise ctx.unsupported(f"activations {acts}")
    return _fused(node, ctx, "lstm")


@converter("RNN", since=7)
@converter("RNN", since=14)
@converter("RNN", since=22)
def rnn(node, ctx):
    acts = [a.lower() for a in _check(node, ctx, 1)] or ["tanh"]
    if len(set(acts)) != 1 or acts[0] not in ("tanh", "relu"):
        raise ctx.unsupported(f"activations {acts}")
    return _fused(node, ctx, f"rnn_{acts[0]}")


@converter("GRU", since=7)
@converter("GRU", since=14)
@converter("GRU", since=22)
def gru(node, ctx):
    acts = _check(node, ctx, 3)
    if acts and [a.lower() for a in acts] != ["sigmoid", "tanh"] * (len(acts) // 2):
        raise ctx.unsupported(f"activations {acts}")
    if ctx.attr("linear_before_reset", 0):
        return _fused(node, ctx, "gru")
    return _gru_unrolled(node, ctx)


def _gru_unrolled(node, ctx):
    """ONNX's default GRU: h~ = tanh(Wh x + bWh + Rh (r * h) + bRh), one step at a time."""
    batch_first = bool(ctx.attr("layout", 0))
    shape = ctx.shape(0)
    seq, batch = (shape[1], shape[0]) if batch_first else (shape[0], shape[1])
    hidden = int(ctx.attr("hidden_size"))
    direction = ctx.attr("direction", "forward")
    directions = 2 if direction == "bidirectional" else 1
    w = ctx.require_const(1, "W").astype(np.float32)
    r = ctx.require_const(2, "R").astype(np.float32)
    b = ctx.require_const(3, "B").astype(np.float32) if ctx.has_input(3) else \
        np.zeros((directions, 6 * hidden), np.float32)
    x = ctx.input(0)
    if batch_first:
        x = mx.sym.transpose(x, axes=(1, 0, 2))
    h0 = _state(ctx, 5, (directions, batch, hidden), batch_first, "h0")
    steps = mx.sym.split(x, num_outputs=seq, axis=0, squeeze_axis=True) if seq > 1 else \
        [mx.sym.reshape(x, shape=(batch, -1))]
    ys, finals = [], []
    for d in range(directions):
        reverse = direction == "reverse" or d == 1
        wz, wr, wh = (param(ctx, m, f"w{d}{g}") for g, m in zip("zrh", np.split(w[d], 3)))
        rz, rr, rh = (param(ctx, m, f"r{d}{g}") for g, m in zip("zrh", np.split(r[d], 3)))
        bias = np.split(b[d], 6)
        bz, br = (param(ctx, bias[k] + bias[k + 3], f"b{d}{g}") for k, g in enumerate("zr"))
        bwh, brh = param(ctx, bias[2], f"bw{d}h"), param(ctx, bias[5], f"br{d}h")
        h = mx.sym.reshape(mx.sym.slice_axis(h0, axis=0, begin=d, end=d + 1), shape=(batch, hidden))
        outs = [None] * seq
        def fc(data, weight, bias_):
            return mx.sym.FullyConnected(data, weight=weight, bias=bias_, num_hidden=hidden, no_bias=bias_ is None)

        for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
            xt = steps[t]
            z = mx.sym.sigmoid(fc(xt, wz, bz) + fc(h, rz, None))
            rg = mx.sym.sigmoid(fc(xt, wr, br) + fc(h, rr, None))
            cand = mx.sym.tanh(fc(xt, wh, bwh) + fc(rg * h, rh, brh))
            h = (1 - z) * cand + z * h
            outs[t] = mx.sym.expand_dims(h, axis=0)
        ys.append(mx.sym.concat(*outs, dim=0) if seq > 1 else outs[0])
        finals.append(mx.sym.expand_dims(h, axis=0))
    out = mx.sym.concat(*ys, dim=2) if directions == 2 else ys[0]
    hy = mx.sym.concat(*finals, dim=0) if directions == 2 else finals[0]
    return _outputs(node, ctx, out, hy, None, seq, batch, directions, hidden, batch_first)
