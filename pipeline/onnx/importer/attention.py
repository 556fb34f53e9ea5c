"""Attention (opset 23): scaled dot-product attention with masks, causal, GQA and a KV cache.

Follows the spec's reference: Q and K are each scaled by sqrt(scale) before the product, a
boolean mask turns into a -inf bias, grouped K/V heads are tiled up to the query heads, and
3-D inputs are viewed as (batch, heads, seq, head_size) by a plain reshape.
"""
from __future__ import annotations

import math

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param, reshape
from pipeline.onnx.importer.registry import converter


def _heads(ctx, i, sym, heads, tag):
    shape = ctx.shape(i)
    if len(shape) == 4:
        return sym, shape
    b, s, hidden = shape
    four = (b, heads, s, hidden // heads)
    return reshape(ctx, sym, four, tag), four


@converter("Attention", since=23)
def attention(node, ctx):
    dtype = ctx.dtype(0)
    q, k, v = (ctx.input(i) if dtype == np.float32 else mx.sym.Cast(ctx.input(i), dtype="float32")
               for i in range(3))
    three_d = ctx.rank(0) == 3
    q, qs = _heads(ctx, 0, q, ctx.attr("q_num_heads"), "q4")
    k, ks = _heads(ctx, 1, k, ctx.attr("kv_num_heads"), "k4")
    v, vs = _heads(ctx, 2, v, ctx.attr("kv_num_heads"), "v4")
    b, hq, s, hd = qs
    scale = ctx.attr("scale", 1 / math.sqrt(hd))
    root = math.sqrt(scale)
    if ctx.has_input(4):
        k = mx.sym.concat(ctx.input(4), k, dim=2)
    if ctx.has_input(5):
        v = mx.sym.concat(ctx.input(5), v, dim=2)
    t = ks[2] + (ctx.shape(4)[2] if ctx.has_input(4) else 0)
    present_k, present_v = k, v
    hk = ks[1]
    if hk != hq:
        k = mx.sym.tile(k, reps=(1, hq // hk, 1, 1))
        v = mx.sym.tile(v, reps=(1, hq // hk, 1, 1))
    hv = vs[3]
    q3 = mx.sym.reshape(q * root, shape=(b * hq, s, hd))
    k3 = mx.sym.reshape(k * root, shape=(b * hq, t, hd))
    scores = mx.sym.reshape(mx.sym.batch_dot(q3, k3, transpose_b=True), shape=(b, hq, s, t))
    full = (b, hq, s, t)
    bias = None
    if ctx.attr("is_causal", 0):
        causal = np.where(np.tril(np.ones((s, t), bool)), 0.0, -np.inf).astype(np.float32)
        bias = param(ctx, causal, "causal")
    if ctx.has_input(3):
        mask = ctx.input(3)
        mshape = ctx.shape(3)
        mask = reshape(ctx, mask, (1,) * (4 - len(mshape)) + tuple(mshape), "mask4")
        if _is_bool_mask(ctx):
            cond = mx.sym.broadcast_to(mask, shape=full)
            masked = mx.sym.where(cond, mx.sym.zeros(full), mx.sym.full(full, val=-np.inf))
        else:
            masked = mx.sym.broadcast_to(mx.sym.Cast(mask, dtype="float32"), shape=full)
        bias = masked if bias is None else mx.sym.broadcast_add(bias, masked)
    with_bias = scores if bias is None else mx.sym.broadcast_add(scores, bias)
    mode = ctx.attr("qk_matmul_output_mode", 0)
    qk_out = with_bias if mode == 1 else scores
    softcap = ctx.attr("softcap", 0.0)
    if softcap and softcap > 0:
        with_bias = mx.sym.tanh(with_bias / softcap) * softcap
        if mode == 2:
            qk_out = with_bias
    probs = mx.sym.softmax(with_bias, axis=-1)
    if mode == 3:
        qk_out = probs
    out = mx.sym.batch_dot(mx.sym.reshape(probs, shape=(b * hq, s, t)), mx.sym.reshape(v, shape=(b * hq, t, hv)))
    out = mx.sym.reshape(out, shape=(b, hq, s, hv))
    if three_d:
        out = mx.sym.reshape(mx.sym.transpose(out, axes=(0, 2, 1, 3)), shape=(b, s, hq * hv))
    results = [out, present_k, present_v, qk_out]
    if dtype != np.float32:
        results = [mx.sym.Cast(r, dtype=dtype) for r in results]
    results[0] = mx.sym.identity(results[0], name=ctx.name)
    return results


def _is_bool_mask(ctx) -> bool:
    info = ctx.state.onnx_info.get(ctx.node.inputs[3])
    if info is not None and info[0] is not None:
        return info[0] == np.bool_
    value = ctx.const(3)
    return value is not None and value.dtype == np.bool_
