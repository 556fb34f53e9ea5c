"""DFT (opsets 17, 20) as two static matrix products (cosine and sine tables).

Input (..., n, 1) is real, (..., n, 2) complex; the output is complex (..., k, 2) with
k = n, or n // 2 + 1 when onesided. dft_length pads with zeros or truncates the signal.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, param
from pipeline.onnx.importer.registry import converter


@converter("DFT", since=17)
@converter("DFT", since=20)
def dft(node, ctx):
    shape = ctx.shape(0)
    rank = len(shape)
    if ctx.opset >= 20:
        axis = int(ctx.require_const(2, "axis").reshape(())) if ctx.has_input(2) else -2
    else:
        axis = ctx.attr("axis", 1)
    axis = norm_axis(axis, rank)
    if axis == rank - 1:
        raise ctx.unsupported("a DFT over the real/imaginary axis")
    size = shape[axis]
    n = int(ctx.require_const(1, "dft_length").reshape(())) if ctx.has_input(1) else size
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    k = n // 2 + 1 if onesided else n
    used = min(size, n)  # samples past dft_length are dropped; missing ones are zeros
    theta = 2 * np.pi * np.outer(np.arange(k), np.arange(used)) / n
    cos, sin = np.cos(theta), np.sin(theta) * (1 if inverse else -1)
    scale = 1.0 / n if inverse else 1.0
    x = ctx.input(0)
    dtype = ctx.dtype(0)
    if dtype != np.float32:
        x = mx.sym.Cast(x, dtype="float32")
    x = mx.sym.slice_axis(x, axis=axis, begin=0, end=used)
    last = rank - 2
    if axis != last:  # bring the signal axis next to the real/imaginary axis
        x = mx.sym.swapaxes(x, dim1=axis, dim2=last)
    re = mx.sym.squeeze(mx.sym.slice_axis(x, axis=rank - 1, begin=0, end=1), axis=rank - 1)
    im = mx.sym.squeeze(mx.sym.slice_axis(x, axis=rank - 1, begin=1, end=2), axis=rank - 1) \
        if shape[-1] == 2 else None

    def apply(sym, table, tag):
        return mx.sym.FullyConnected(sym, weight=param(ctx, (table * scale).astype(np.float32), tag), no_bias=True,
                                     num_hidden=k, flatten=False)

    # (a + ib)(c + is) with s = -sin (forward) or +sin (inverse)
    out_re, out_im = apply(re, cos, "cos"), apply(re, sin, "sin")
    if im is not None:
        out_re = out_re - apply(im, sin, "sin_im")
        out_im = out_im + apply(im, cos, "cos_im")
    out = mx.sym.stack(out_re, out_im, axis=rank - 1)
    if axis != last:
        out = mx.sym.swapaxes(out, dim1=axis, dim2=last)
    if dtype != np.float32:
        out = mx.sym.Cast(out, dtype=dtype)
    return mx.sym.identity(out, name=ctx.name)
