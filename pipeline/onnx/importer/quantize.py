"""Linear quantization ops, emulated in float: (De)QuantizeLinear, DynamicQuantizeLinear,
QLinearMatMul, QLinearConv, MatMulInteger, ConvInteger.

MXNet 1.9.1's own int8 ops need its calibration graph passes, so ONNX's explicit Q/DQ
arithmetic is written out: dequantize is (x - zero_point) * scale; quantize rounds half to
even, adds the zero point and saturates to the target type. Integer accumulations run in
float64, exact below 2**53.
"""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.context import norm_axis
from pipeline.onnx.importer.conv import convolve
from pipeline.onnx.importer.elementwise import round_half_even
from pipeline.onnx.importer.modelfile import np_dtype
from pipeline.onnx.importer.registry import converter


def _per_axis(ctx, i, sym, rank, axis, block, x_shape):
    """Scale/zero point i shaped to broadcast against x: scalar, per-axis (1-D) or blocked."""
    shape = ctx.shape(i)
    if len(shape) <= 1 and (not shape or shape[0] == 1):
        return sym
    if len(shape) == 1:
        return mx.sym.reshape(sym, shape=tuple(shape[0] if d == axis else 1 for d in range(rank)))
    if block:  # blocked: repeat each entry block_size times along the axis, then trim
        sym = mx.sym.repeat(sym, repeats=block, axis=axis)
        return mx.sym.slice_axis(sym, axis=axis, begin=0, end=x_shape[axis])
    return sym


def _float(sym, dtype=np.float32):
    return mx.sym.Cast(sym, dtype=dtype)


def dequantize(ctx, x, x_i, scale_i, zp_i, out_dtype, axis=1, block=0):
    shape = ctx.shape(x_i)
    rank = len(shape)
    axis = norm_axis(axis, rank) if rank else 0
    work = np.float64 if out_dtype != np.float16 else np.float32
    y = _float(x, work)
    if ctx.has_input(zp_i):
        y = mx.sym.broadcast_sub(y, _per_axis(ctx, zp_i, _float(ctx.input(zp_i), work), rank, axis, block, shape))
    y = mx.sym.broadcast_mul(y, _per_axis(ctx, scale_i, _float(ctx.input(scale_i), work), rank, axis, block, shape))
    return _float(y, out_dtype)


def quantize(ctx, x, x_shape, scale, zp, out_dtype, scale_shape=None):
    """saturate(round_half_even(x / scale) + zp) in float32, as ONNX Runtime computes it."""
    info = np.iinfo(out_dtype)
    y = round_half_even(mx.sym.broadcast_div(_float(x), _float(scale)))
    if zp is not None:
        y = mx.sym.broadcast_add(y, _float(zp))
    return mx.sym.Cast(mx.sym.clip(y, a_min=float(info.min), a_max=float(info.max)), dtype=out_dtype)


def _zp_dtype(ctx, zp_i, default=np.uint8):
    if ctx.has_input(zp_i):
        return ctx.output_onnx_dtype(0) or ctx.dtype(zp_i)
    if "output_dtype" in ctx.node.attrs and ctx.attr("output_dtype"):
        return np_dtype(ctx.attr("output_dtype"), ctx.node.label)
    return np.dtype(default)


@converter("QuantizeLinear", since=10)
@converter("QuantizeLinear", since=13)
@converter("QuantizeLinear", since=19)
@converter("QuantizeLinear", since=21)
@converter("QuantizeLinear", since=23)
def quantize_linear(node, ctx):
    out_dtype = np.dtype(ctx.output_onnx_dtype(0) or _zp_dtype(ctx, 2))
    if out_dtype.kind not in "iu":
        raise ctx.unsupported(f"output type {out_dtype}")
    shape = ctx.shape(0)
    rank = len(shape)
    axis = norm_axis(ctx.attr("axis", 1), rank) if rank else 0
    block = ctx.attr("block_size", 0)
    scale = _per_axis(ctx, 1, ctx.input(1), rank, axis, block, shape)
    zp = _per_axis(ctx, 2, ctx.input(2), rank, axis, block, shape) if ctx.has_input(2) else None
    return mx.sym.identity(quantize(ctx, ctx.input(0), shape, scale, zp, out_dtype), name=ctx.name)


@converter("DequantizeLinear", since=10)
@converter("DequantizeLinear", since=13)
@converter("DequantizeLinear", since=19)
@converter("DequantizeLinear", since=21)
@converter("DequantizeLinear", since=23)
def dequantize_linear(node, ctx):
    out_dtype = np.dtype(ctx.output_onnx_dtype(0) or ctx.dtype(1))
    y = dequantize(ctx, ctx.input(0), 0, 1, 2, out_dtype, ctx.attr("axis", 1), ctx.attr("block_size", 0))
    return mx.sym.identity(y, name=ctx.name)


@converter("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(node, ctx):
    """uint8 with scale = (max(0, max x) - min(0, min x)) / 255 and a rounded zero point."""
    x = _float(ctx.input(0))
    lo = mx.sym.minimum(mx.sym.min(x), 0.0)
    hi = mx.sym.maximum(mx.sym.max(x), 0.0)
    scale = (hi - lo) / 255.0
    zp = mx.sym.clip(round_half_even(mx.sym.broadcast_div(-lo, scale)), a_min=0.0, a_max=255.0)
    y = quantize(ctx, x, ctx.shape(0), scale, zp, np.uint8)
    return [mx.sym.identity(y, name=ctx.name), scale, mx.sym.Cast(zp, dtype="uint8")]


def _matmul(a, b, sa, sb):
    """numpy matmul of 2-D/3-D float64 operands (what the quantized tests and exporters use)."""
    if len(sa) == 2 and len(sb) == 2:
        return mx.sym.dot(a, b)
    if len(sa) == len(sb) == 3:
        return mx.sym.batch_dot(a, b)
    if len(sa) == 3 and len(sb) == 2:
        return mx.sym.dot(a, b)
    raise ValueError("unsupported ranks")


def _operand(ctx, x_i, zp_i, scale_i=None, row_axis=None):
    """(x - zp) [* scale] in float64, with a 1-D scale/zp broadcast along `row_axis`."""
    shape = ctx.shape(x_i)
    rank = len(shape)
    axis = rank - 2 if row_axis == "rows" else rank - 1
    y = _float(ctx.input(x_i), np.float64)
    if zp_i is not None and ctx.has_input(zp_i):
        y = mx.sym.broadcast_sub(y, _per_axis(ctx, zp_i, _float(ctx.input(zp_i), np.float64), rank, axis, 0, shape))
    if scale_i is not None:
        y = mx.sym.broadcast_mul(y, _per_axis(ctx, scale_i, _float(ctx.input(scale_i), np.float64), rank, axis, 0,
                                              shape))
    return y


@converter("QLinearMatMul", since=10)
@converter("QLinearMatMul", since=21)
def qlinear_matmul(node, ctx):
    sa, sb = ctx.shape(0), ctx.shape(3)
    if not (len(sa) in (2, 3) and len(sb) in (2, 3)):
        raise ctx.unsupported(f"operand ranks {len(sa)} and {len(sb)}")
    a = _operand(ctx, 0, 2, 1, "rows")
    b = _operand(ctx, 3, 5, 4, "cols")
    y = _matmul(a, b, sa, sb)
    out_dtype = np.dtype(ctx.dtype(7))
    return mx.sym.identity(quantize(ctx, y, None, _float(ctx.input(6)), ctx.input(7), out_dtype), name=ctx.name)


@converter("MatMulInteger", since=10)
def matmul_integer(node, ctx):
    sa, sb = ctx.shape(0), ctx.shape(1)
    y = _matmul(_operand(ctx, 0, 2, None, "rows"), _operand(ctx, 1, 3, None, "cols"), sa, sb)
    return mx.sym.Cast(y, dtype="int32", name=ctx.name)


@converter("ConvInteger", since=10)
def conv_integer(node, ctx):
    x = _float(ctx.input(0), np.float64)
    w = _float(ctx.input(1), np.float64)
    if ctx.has_input(2):
        x = mx.sym.broadcast_sub(x, mx.sym.reshape(_float(ctx.input(2), np.float64), shape=(1, -1, 1, 1)))
    if ctx.has_input(3):
        w = mx.sym.broadcast_sub(w, mx.sym.reshape(_float(ctx.input(3), np.float64),
                                                   shape=(-1,) + (1,) * (ctx.rank(1) - 1)))
    y = convolve(ctx, x, w, None, ctx.shape(0), ctx.shape(1), np.float64, name=ctx.sub("conv"))
    return mx.sym.Cast(y, dtype="int32", name=ctx.name)


@converter("QLinearConv", since=10)
def qlinear_conv(node, ctx):
    rank = ctx.rank(3)
    x = dequantize(ctx, ctx.input(0), 0, 1, 2, np.float64)
    w = _float(ctx.input(3), np.float64)
    w_zp = _float(ctx.input(5), np.float64)
    w_scale = _float(ctx.input(4), np.float64)
    per_channel = (-1,) + (1,) * (rank - 1)
    if ctx.shape(5) not in ((), (1,)):
        w_zp = mx.sym.reshape(w_zp, shape=per_channel)
    if ctx.shape(4) not in ((), (1,)):
        w_scale = mx.sym.reshape(w_scale, shape=per_channel)
    w = mx.sym.broadcast_mul(mx.sym.broadcast_sub(w, w_zp), w_scale)
    bias = None
    if ctx.has_input(8):
        x_scale = _float(ctx.input(1), np.float64)
        bias = mx.sym.broadcast_mul(mx.sym.broadcast_mul(_float(ctx.input(8), np.float64), x_scale),
                                    mx.sym.reshape(w_scale, shape=(-1,)))
    y = convolve(ctx, x, w, bias, ctx.shape(0), ctx.shape(3), np.float64, name=ctx.sub("conv"))
    out_dtype = np.dtype(ctx.dtype(7))
    return mx.sym.identity(quantize(ctx, y, None, _float(ctx.input(6)), ctx.input(7), out_dtype), name=ctx.name)
