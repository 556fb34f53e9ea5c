"""RotaryEmbedding (opset 23): rotate pairs of the first rotary_dim features by cos/sin tables.

Pairs are the two halves (default) or neighbours (interleaved=1); position_ids pick rows of
the caches, otherwise the caches are already (batch, seq, dim/2).
"""
from __future__ import annotations

import mxnet as mx

from pipeline.onnx.importer.context import reshape
from pipeline.onnx.importer.registry import converter


@converter("RotaryEmbedding", since=23)
def rotary_embedding(node, ctx):
    shape = ctx.shape(0)
    x = ctx.input(0)
    if len(shape) == 4:  # (batch, heads, seq, head) -> (batch, seq, heads, head)
        x = mx.sym.transpose(x, axes=(0, 2, 1, 3))
        b, h, s, d = shape
    else:
        b, s, hidden = shape
        h = ctx.attr("num_heads")
        d = hidden // h
        x = reshape(ctx, x, (b, s, h, d), "heads")
    rot = ctx.attr("rotary_embedding_dim", 0) or d
    half = rot // 2
    cos, sin = ctx.input(1), ctx.input(2)
    if ctx.has_input(3):
        pos = mx.sym.Cast(ctx.input(3), dtype="int64")
        cos, sin = mx.sym.take(cos, pos, axis=0), mx.sym.take(sin, pos, axis=0)
    cos = mx.sym.expand_dims(mx.sym.slice_axis(cos, axis=2, begin=0, end=half), axis=2)
    sin = mx.sym.expand_dims(mx.sym.slice_axis(sin, axis=2, begin=0, end=half), axis=2)
    rotate = mx.sym.slice_axis(x, axis=3, begin=0, end=rot)
    if ctx.attr("interleaved", 0):
        pairs = mx.sym.reshape(rotate, shape=(b, s, h, half, 2))
        x1 = mx.sym.reshape(mx.sym.slice_axis(pairs, axis=4, begin=0, end=1), shape=(b, s, h, half))
        x2 = mx.sym.reshape(mx.sym.slice_axis(pairs, axis=4, begin=1, end=2), shape=(b, s, h, half))
    else:
        x1 = mx.sym.slice_axis(rotate, axis=3, begin=0, end=half)
        x2 = mx.sym.slice_axis(rotate, axis=3, begin=half, end=rot)
    real = mx.sym.broadcast_sub(mx.sym.broadcast_mul(cos, x1), mx.sym.broadcast_mul(sin, x2))
    imag = mx.sym.broadcast_add(mx.sym.broadcast_mul(sin, x1), mx.sym.broadcast_mul(cos, x2))
    if ctx.attr("interleaved", 0):
        rotated = mx.sym.reshape(mx.sym.stack(real, imag, axis=4), shape=(b, s, h, rot))
    else:
        rotated = mx.sym.concat(real, imag, dim=3)
    out = mx.sym.concat(rotated, mx.sym.slice_axis(x, axis=3, begin=rot, end=d), dim=3) if rot < d else rotated
    if len(shape) == 4:
        return mx.sym.transpose(out, axes=(0, 2, 1, 3), name=ctx.name)
    return reshape(ctx, out, shape, "out")
