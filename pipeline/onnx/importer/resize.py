"""Resize (opsets 10-19) and Upsample as static interpolation matrices, one per resized axis.

Every ONNX resize mode (nearest with its four rounding rules, linear, cubic, antialiased
linear/cubic, exclude_outside, all coordinate transformations, tf_crop_and_resize with an
extrapolation value) is linear along each axis and separable across axes. So each axis gets a
static (out, in) matrix built in numpy from the spec's 1-D formulas, and the graph applies it
with FullyConnected along that axis: exact, and no MXNet resize op's rounding conventions to
match (BilinearResize2D and UpSampling cover only a few of these modes).
"""
from __future__ import annotations

import math

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis, param
from pipeline.onnx.importer.registry import converter


def _nearest(mode):
    def coeffs(ratio, scale):
        if ratio == 1:
            return np.array([0.0, 1.0])
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": False,
              "ceil": True}[mode]
        return np.array([0.0, 1.0]) if up else np.array([1.0, 0.0])
    return coeffs


def _linear(ratio, scale):
    return np.array([1 - ratio, ratio])


def _linear_antialias(ratio, scale):
    scale = min(scale, 1.0)
    start = int(math.floor(-1 / scale) + 1)
    args = (np.arange(start, 2 - start) - ratio) * scale
    c = np.clip(1 - np.abs(args), 0, 1)
    return c / c.sum()


def _cubic(a):
    def coeffs(ratio, scale):
        r, q = ratio, 1 - ratio
        return np.array([((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                         ((a + 2) * r - (a + 3)) * r * r + 1,
                         ((a + 2) * q - (a + 3)) * q * q + 1,
                         ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a])
    return coeffs


def _cubic_antialias(a):
    def kernel(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        if x < 2:
            return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
        return 0.0

    def coeffs(ratio, scale):
        scale = min(scale, 1.0)
        start = int(math.floor(-2 / scale) + 1)
        c = np.array([kernel(scale * (i - ratio)) for i in range(start, 2 - start)])
        return c / c.sum()
    return coeffs


def _source_coord(o, n_in, n_out, scale, mode, roi):
    """The input coordinate of output index o under the coordinate transformation `mode`."""
    out_f = scale * n_in
    if mode == "align_corners":
        return 0.0 if out_f == 1 else o * (n_in - 1) / (out_f - 1)
    if mode == "asymmetric":
        return o / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        x = (end - start) * (n_in - 1) / 2 if out_f == 1 else o * (end - start) * (n_in - 1) / (out_f - 1)
        return x + start * (n_in - 1)
    if mode == "pytorch_half_pixel":
        return -0.5 if out_f == 1 else (o + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (o + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / out_f)
        return offset + (o + 0.5) / scale - 0.5
    raise ValueError(mode)


def _neighbors(x, n, limit):
    """The n indices of [0, limit) nearest to x, ties to the smaller index, ascending."""
    base = int(math.floor(x))
    window = [i for i in range(base - n - 1, base + n + 2) if 0 <= i < limit]
    return sorted(sorted(window, key=lambda i: (abs(x - i), i))[:n])


def axis_matrix(n_in, n_out, scale, get_coeffs, coord_mode, roi, exclude_outside):
    """(matrix (n_out, n_in), inside mask (n_out,)) for one axis, following the ONNX reference."""
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    inside = np.ones(n_out, dtype=np.float64)
    for o in range(n_out):
        x = _source_coord(o, n_in, n_out, scale, coord_mode, roi)
        if coord_mode == "tf_crop_and_resize" and (x < 0 or x > n_in - 1):
            inside[o] = 0.0
            continue
        ratio = 1.0 if float(x).is_integer() else x - math.floor(x)
        coeffs = np.array(get_coeffs(ratio, scale), dtype=np.float64)
        pad = int(math.ceil(len(coeffs) / 2))
        idx = np.array(_neighbors(x + pad, len(coeffs), n_in + 2 * pad)) - pad
        if exclude_outside:
            coeffs = np.where((idx < 0) | (idx >= n_in), 0.0, coeffs)
            coeffs = coeffs / coeffs.sum()
        for c, i in zip(coeffs, np.clip(idx, 0, n_in - 1)):
            matrix[o, i] += c
    return matrix, inside


def _apply(ctx, x, rank, axis, matrix, tag):
    """x @ matrix.T along `axis`, as FullyConnected over the last axis."""
    last = rank - 1
    if axis != last:
        x = mx.sym.swapaxes(x, dim1=axis, dim2=last)
    x = mx.sym.FullyConnected(x, weight=param(ctx, matrix.astype(np.float32), tag), no_bias=True,
                              num_hidden=matrix.shape[0], flatten=False)
    return mx.sym.swapaxes(x, dim1=axis, dim2=last) if axis != last else x


def resize_static(node, ctx, scales, sizes, roi, attrs):
    shape = ctx.shape(0)
    rank = len(shape)
    axes = [norm_axis(a, rank) for a in attrs.get("axes") or range(rank)]
    full_scales = [1.0] * rank
    out = list(shape)
    if sizes is not None:
        for k, a in enumerate(axes):
            out[a] = int(sizes[k])
            full_scales[a] = out[a] / shape[a]
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            s = pick(full_scales[a] for a in axes)
            for a in axes:
                full_scales[a] = s
                out[a] = int(s * shape[a] + 0.5)
    else:
        for k, a in enumerate(axes):
            full_scales[a] = float(scales[k])
            out[a] = int(math.floor(shape[a] * full_scales[a] + 1e-9))
    mode = attrs.get("mode", "nearest")
    a = attrs.get("cubic_coeff_a", -0.75)
    anti = bool(attrs.get("antialias", 0))
    if mode == "nearest":
        get = _nearest(attrs.get("nearest_mode", "round_prefer_floor"))
    elif mode == "linear":
        get = _linear_antialias if anti else _linear
    elif mode == "cubic":
        get = _cubic_antialias(a) if anti else _cubic(a)
    else:
        raise ctx.unsupported(f"mode '{mode}'")
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    roi_full = [(0.0, 1.0)] * rank
    if coord == "tf_crop_and_resize":
        if roi is None:
            raise ctx.unsupported("tf_crop_and_resize without roi")
        roi = [float(v) for v in roi.reshape(-1)]
        half = len(roi) // 2
        for k, ax in enumerate(axes if half == len(axes) else range(rank)):
            roi_full[ax] = (roi[k], roi[k + half])
    x = ctx.input(0)
    dtype = ctx.dtype(0)
    if dtype != np.float32:
        x = mx.sym.Cast(x, dtype="float32")
    inside = np.ones(out, dtype=np.float64)
    for ax in range(rank):
        if out[ax] == shape[ax] and full_scales[ax] == 1.0 and coord != "tf_crop_and_resize":
            continue
        matrix, mask = axis_matrix(shape[ax], out[ax], full_scales[ax], get, coord, roi_full[ax],
                                   bool(attrs.get("exclude_outside", 0)))
        x = _apply(ctx, x, rank, ax, matrix, f"axis{ax}")
        inside *= mask.reshape([-1 if i == ax else 1 for i in range(rank)])
    if not inside.all():
        fill = param(ctx, ((1 - inside) * attrs.get("extrapolation_value", 0.0)).astype(np.float32), "extrapolate")
        x = mx.sym.broadcast_add(x, fill)
    if dtype != np.float32:
        x = mx.sym.Cast(mx.sym.round(x) if np.issubdtype(dtype, np.integer) else x, dtype=dtype)
    return mx.sym.identity(x, name=ctx.name)


@converter("Resize", since=10)
@converter("Resize", since=11)
@converter("Resize", since=13)
@converter("Resize", since=18)
@converter("Resize", since=19)
def resize(node, ctx):
    attrs = dict(node.attrs)
    if ctx.opset < 11:
        attrs.setdefault("coordinate_transformation_mode", "asymmetric")
        attrs.setdefault("nearest_mode", "floor")
        return resize_static(node, ctx, ctx.require_const(1, "scales").reshape(-1), None, None, attrs)
    tf_crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = ctx.require_const(1, "roi") if tf_crop and ctx.has_input(1) else None
    scales = ctx.const(2) if ctx.has_input(2) else None
    if scales is not None and scales.size == 0:
        scales = None
    if ctx.has_input(3):
        sizes = ctx.require_const(3, "sizes").reshape(-1)
        return resize_static(node, ctx, None, sizes, roi, attrs)
    if scales is None:
        ctx.require_const(2, "scales")
        raise ctx.unsupported("neither scales nor sizes")
    return resize_static(node, ctx, scales.reshape(-1), None, roi, attrs)


@converter("Upsample", since=7)
@converter("Upsample", since=9)
def upsample(node, ctx):
    """Upsample is Resize with asymmetric coordinates and floor rounding."""
    attrs = {"mode": ctx.attr("mode", "nearest"), "coordinate_transformation_mode": "asymmetric",
             "nearest_mode": "floor"}
    scales = ctx.attr("scales") if ctx.opset < 9 else ctx.require_const(1, "scales")
    return resize_static(node, ctx, np.asarray(scales, dtype=np.float64).reshape(-1), None, None, attrs)
