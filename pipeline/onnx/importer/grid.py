"""GridSample and AffineGrid (spatial transformers), 2-D and 3-D.

GridSample gathers the input at the taps around each grid point (1 for nearest, 2 per axis for
linear, 4 for cubic) with gather_nd and sums them with their weights, following the spec's
reference: coordinates outside the border are clamped or reflected first (border/reflection),
and each tap is then zeroed (zeros), clamped (border) or reflected (reflection).
"""
from __future__ import annotations

import itertools

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import param
from pipeline.onnx.importer.elementwise import round_half_even
from pipeline.onnx.importer.registry import converter

_MODES = {"bilinear": "linear", "bicubic": "cubic", "linear": "linear", "cubic": "cubic", "nearest": "nearest"}
_A = -0.75


def _reflect(x, lo, hi):
    """Fold x into [lo, hi] by mirroring, as the reference's _gs_reflect does."""
    span = hi - lo
    below, above = x < lo, x > hi
    dx = below * (lo - x) + above * (x - hi)
    n = mx.sym.floor(dx / span)
    r = dx - n * span
    even = 1 - (n - 2 * mx.sym.floor(n / 2))
    from_below = even * (lo + r) + (1 - even) * (hi - r)
    from_above = even * (hi - r) + (1 - even) * (lo + r)
    return below * from_below + above * from_above + (1 - below - above) * x


def _cubic(t):
    u = 1 - t
    return [((_A * (t + 1) - 5 * _A) * (t + 1) + 8 * _A) * (t + 1) - 4 * _A,
            ((_A + 2) * t - (_A + 3)) * t * t + 1,
            ((_A + 2) * u - (_A + 3)) * u * u + 1,
            ((_A * (u + 1) - 5 * _A) * (u + 1) + 8 * _A) * (u + 1) - 4 * _A]


def _taps(x, mode):
    if mode == "nearest":
        return [(x, None)]
    low = mx.sym.floor(x)
    t = x - low
    if mode == "linear":
        return [(low, 1 - t), (low + 1, t)]
    return [(low + k, w) for k, w in zip((-1, 0, 1, 2), _cubic(t))]


@converter("GridSample", since=16)
@converter("GridSample", since=20)
@converter("GridSample", since=22)
def grid_sample(node, ctx):
    shape, gshape = ctx.shape(0), ctx.shape(1)
    n, c, dims = shape[0], shape[1], shape[2:]
    rank, out = len(dims), tuple(gshape[1:-1])
    mode = _MODES[ctx.attr("mode", "bilinear" if ctx.opset < 20 else "linear")]
    padding = ctx.attr("padding_mode", "zeros")
    align = bool(ctx.attr("align_corners", 0))
    grid = mx.sym.Cast(ctx.input(1), dtype="float32")
    per_axis = []
    for j, size in enumerate(dims):
        g = mx.sym.reshape(mx.sym.slice_axis(grid, axis=rank + 1, begin=rank - 1 - j, end=rank - j), shape=(n,) + out)
        x = (g + 1) / 2 * (size - 1) if align else ((g + 1) * size - 1) / 2
        if mode == "nearest":
            x = round_half_even(x)
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if padding == "border":
            outside = (x < lo) + (x > hi)
            x = outside * mx.sym.clip(x, 0, size - 1) + (1 - outside) * x
        elif padding == "reflection":
            x = _reflect(x, lo, hi)
        taps = []
        for idx, weight in _taps(x, mode):
            if mode == "nearest":
                idx = mx.sym.fix(idx)
            if padding == "zeros":
                valid = (idx >= 0) * (idx <= size - 1)
                weight = valid if weight is None else weight * valid
            elif padding == "reflection":
                idx = mx.sym.fix(_reflect(idx, lo, hi))
            taps.append((mx.sym.clip(idx, 0, size - 1), weight))
        per_axis.append(taps)
    full = (n, c) + out
    grids = np.indices(full, dtype=np.int64)
    batch, chan = param(ctx, grids[:1], "n"), param(ctx, grids[1:2], "c")
    x_in = ctx.input(0) if ctx.dtype(0) == np.float32 else mx.sym.Cast(ctx.input(0), dtype="float32")
    total = None
    for combo in itertools.product(*per_axis):
        coords = [batch, chan] + [mx.sym.broadcast_to(mx.sym.expand_dims(mx.sym.Cast(idx, dtype="int64"), axis=1),
                                                      shape=full).expand_dims(axis=0) for idx, _ in combo]
        value = mx.sym.gather_nd(x_in, mx.sym.concat(*coords, dim=0))
        weight = None
        for _, w in combo:
            if w is not None:
                weight = w if weight is None else weight * w
        if weight is not None:
            value = mx.sym.broadcast_mul(value, mx.sym.expand_dims(weight, axis=1))
        total = value if total is None else total + value
    if ctx.dtype(0) != np.float32:
        total = mx.sym.Cast(total, dtype=ctx.dtype(0))
    return mx.sym.identity(total, name=ctx.name)


@converter("AffineGrid", since=20)
def affine_grid(node, ctx):
    """grid = [x, y(, z), 1] @ theta^T over a static base grid of normalized pixel centres."""
    size = [int(d) for d in ctx.require_const(1, "size").reshape(-1)]
    n, dims = size[0], size[2:]
    align = bool(ctx.attr("align_corners", 0))
    axes = []
    for d in dims:
        axes.append(np.linspace(-1, 1, d) if align else (2 * np.arange(d) + 1) / d - 1)
    mesh = np.meshgrid(*axes, indexing="ij")  # in (D,) H, W order
    coords = [m.reshape(-1) for m in mesh][::-1]  # x first
    base = np.stack(coords + [np.ones_like(coords[0])], axis=1).astype(np.float32)
    base_sym = mx.sym.broadcast_to(param(ctx, base[None], "base"), shape=(n,) + base.shape)
    theta = ctx.input(0) if ctx.dtype(0) == np.float32 else mx.sym.Cast(ctx.input(0), dtype="float32")
    out = mx.sym.batch_dot(base_sym, theta, transpose_b=True)
    out = mx.sym.reshape(out, shape=(n,) + tuple(dims) + (len(dims),))
    if ctx.dtype(0) != np.float32:
        out = mx.sym.Cast(out, dtype=ctx.dtype(0))
    return mx.sym.identity(out, name=ctx.name)
