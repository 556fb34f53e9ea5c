"""LSTM, GRU and RNN -> MXNet's fused RNN op, with the weights re-laid out.

Gate order differs: ONNX LSTM stacks i, o, f, c while MXNet uses i, f, c(g), o; ONNX GRU stacks
z, r, h while MXNet uses r, z, n. MXNet wants one flat parameter vector: all weights (per
direction: input then recurrent), then all biases in the same order. MXNet's GRU applies the
reset gate after the recurrent matmul, which is ONNX's linear_before_reset=1; the default
linear_before_reset=0, peepholes, clip and other activations go to rnn_unrolled instead.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param
from pipeline.onnx.importer.registry import converter
from pipeline.onnx.importer.rnn_unrolled import unrolled

_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}  # ONNX gate blocks in MXNet order
_MODES = {"LSTM": "lstm", "GRU": "gru"}


def _fusable(node, ctx) -> bool:
    """Whether MXNet's fused RNN computes exactly this node; else it is unrolled."""
    if ctx.has_input(4):
        lens = ctx.require_const(4, "sequence_lens")
        seq = ctx.shape(0)[1 if ctx.attr("layout", 0) else 0]
        if not np.all(lens == seq):
            raise ctx.unsupported("sequence_lens shorter than the sequence", "MXNet has no CPU kernel for lengths")
    if ctx.attr("clip", None) is not None or ctx.attr("activation_alpha", None) or ctx.attr("activation_beta", None):
        return False
    acts = [a.lower() for a in ctx.attr("activations", [])]
    if node.op_type == "LSTM":
        peep = ctx.has_input(7) and np.any(ctx.require_const(7, "P") != 0)
        return not peep and not ctx.attr("input_forget", 0) and \
            all(a == e for a, e in zip(acts, ["sigmoid", "tanh", "tanh"] * 2))
    if node.op_type == "GRU":
        return bool(ctx.attr("linear_before_reset", 0)) and all(a == e for a, e in zip(acts, ["sigmoid", "tanh"] * 2))
    return len(set(acts)) <= 1 and (acts or ["tanh"])[0] in ("tanh", "relu")


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
@converter("GRU", since=7)
@converter("GRU", since=14)
@converter("GRU", since=22)
@converter("RNN", since=7)
@converter("RNN", since=14)
@converter("RNN", since=22)
def recurrent(node, ctx):
    if not _fusable(node, ctx):
        return unrolled(node, ctx, lambda i, shape, batch_first, tag: _state(ctx, i, shape, batch_first, tag),
                        _outputs)
    if node.op_type == "RNN":
        acts = [a.lower() for a in ctx.attr("activations", [])] or ["tanh"]
        return _fused(node, ctx, f"rnn_{acts[0]}")
    return _fused(node, ctx, _MODES[node.op_type])
