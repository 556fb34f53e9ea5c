"""Element-wise arithmetic and math: numpy broadcasting maps onto MXNet's broadcast_* ops."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.registry import converter

_BINARY = {"Add": mx.sym.broadcast_add, "Sub": mx.sym.broadcast_sub, "Mul": mx.sym.broadcast_mul,
           "Div": mx.sym.broadcast_div}
_UNARY = {"Abs": mx.sym.abs, "Neg": mx.sym.negative, "Exp": mx.sym.exp, "Log": mx.sym.log,
          "Sqrt": mx.sym.sqrt, "Reciprocal": mx.sym.reciprocal, "Floor": mx.sym.floor, "Ceil": mx.sym.ceil,
          "Sign": mx.sym.sign, "Sin": mx.sym.sin, "Cos": mx.sym.cos, "Tan": mx.sym.tan, "Asin": mx.sym.arcsin,
          "Acos": mx.sym.arccos, "Atan": mx.sym.arctan, "Sinh": mx.sym.sinh, "Cosh": mx.sym.cosh,
          "Asinh": mx.sym.arcsinh, "Acosh": mx.sym.arccosh, "Atanh": mx.sym.arctanh, "Erf": mx.sym.erf,
}


@converter("Add", since=7)
@converter("Add", since=13)
@converter("Add", since=14)
@converter("Sub", since=7)
@converter("Sub", since=13)
@converter("Sub", since=14)
@converter("Mul", since=7)
@converter("Mul", since=13)
@converter("Mul", since=14)
@converter("Div", since=7)
@converter("Div", since=13)
@converter("Div", since=14)
def binary(node, ctx):
    a, b = ctx.input(0), ctx.input(1)
    if node.op_type == "Div" and np.issubdtype(ctx.dtype(0), np.integer):
        # ONNX integer Div truncates toward zero; MXNet's int division does the same via fix().
        out = mx.sym.broadcast_div(mx.sym.Cast(a, dtype="float64"), mx.sym.Cast(b, dtype="float64"))
        return mx.sym.Cast(mx.sym.fix(out), dtype=ctx.dtype(0), name=ctx.name)
    return _BINARY[node.op_type](a, b, name=ctx.name)


@converter("Pow", since=7)
@converter("Pow", since=12)
@converter("Pow", since=13)
@converter("Pow", since=15)
def pow_(node, ctx):
    """The result has the base's type; mixed types (opset 12+) are computed in float64."""
    base, exponent = ctx.input(0), ctx.input(1)
    if ctx.dtype(1) == ctx.dtype(0):
        return mx.sym.broadcast_power(base, exponent, name=ctx.name)
    out = mx.sym.broadcast_power(mx.sym.Cast(base, dtype="float64"), mx.sym.Cast(exponent, dtype="float64"))
    return mx.sym.Cast(out, dtype=ctx.dtype(0), name=ctx.name)


@converter("Mod", since=10)
@converter("Mod", since=13)
def mod(node, ctx):
    """fmod=1 is C's fmod (sign of the dividend); fmod=0 is Python's % (sign of the divisor)."""
    a, b = ctx.input(0), ctx.input(1)
    dtype = ctx.dtype(0)
    af, bf = mx.sym.Cast(a, dtype="float64"), mx.sym.Cast(b, dtype="float64")
    trunc = mx.sym.broadcast_sub(af, mx.sym.broadcast_mul(mx.sym.fix(mx.sym.broadcast_div(af, bf)), bf))
    if ctx.attr("fmod", 0):
        out = trunc
    else:
        wrong_sign = mx.sym.broadcast_lesser(mx.sym.broadcast_mul(trunc, bf), mx.sym.zeros_like(trunc))
        out = trunc + mx.sym.broadcast_mul(wrong_sign, bf)
    return mx.sym.Cast(out, dtype=dtype, name=ctx.name)


@converter("Abs", since=6)
@converter("Abs", since=13)
@converter("Neg", since=6)
@converter("Neg", since=13)
@converter("Exp", since=6)
@converter("Exp", since=13)
@converter("Log", since=6)
@converter("Log", since=13)
@converter("Sqrt", since=6)
@converter("Sqrt", since=13)
@converter("Reciprocal", since=6)
@converter("Reciprocal", since=13)
@converter("Floor", since=6)
@converter("Floor", since=13)
@converter("Ceil", since=6)
@converter("Ceil", since=13)
@converter("Sign", since=9)
@converter("Sign", since=13)
@converter("Sin", since=7)
@converter("Cos", since=7)
@converter("Tan", since=7)
@converter("Asin", since=7)
@converter("Acos", since=7)
@converter("Atan", since=7)
@converter("Sinh", since=9)
@converter("Cosh", since=9)
@converter("Asinh", since=9)
@converter("Acosh", since=9)
@converter("Atanh", since=9)
@converter("Erf", since=9)
@converter("Erf", since=13)
def unary(node, ctx):
    return _UNARY[node.op_type](ctx.input(0), name=ctx.name)


@converter("Identity", since=1)
@converter("Identity", since=13)
@converter("Identity", since=14)
@converter("Identity", since=16)
@converter("Identity", since=19)
@converter("Identity", since=21)
def identity(node, ctx):
    return mx.sym.identity(ctx.input(0), name=ctx.name)


_VARIADIC = {"Sum": mx.sym.broadcast_add, "Mean": mx.sym.broadcast_add, "Max": mx.sym.broadcast_maximum,
             "Min": mx.sym.broadcast_minimum}


@converter("Sum", since=8)
@converter("Sum", since=13)
@converter("Mean", since=8)
@converter("Mean", since=13)
@converter("Max", since=8)
@converter("Max", since=12)
@converter("Max", since=13)
@converter("Min", since=8)
@converter("Min", since=12)
@converter("Min", since=13)
def variadic(node, ctx):
    """Folds the inputs pairwise with broadcasting; Mean divides by the count at the end."""
    items = ctx.inputs()
    out = items[0]
    for k, item in enumerate(items[1:]):
        out = _VARIADIC[node.op_type](out, item, name=ctx.sub(f"acc{k}"))
    if node.op_type == "Mean":
        out = out / float(len(items))
    return mx.sym.identity(out, name=ctx.name)


@converter("IsNaN", since=9)
@converter("IsNaN", since=13)
@converter("IsNaN", since=20)
def isnan(node, ctx):
    x = ctx.input(0)
    return mx.sym.broadcast_not_equal(x, x, name=ctx.name)


@converter("IsInf", since=10)
@converter("IsInf", since=20)
def isinf(node, ctx):
    x = ctx.input(0)
    pos = (x == float("inf")) if ctx.attr("detect_positive", 1) else mx.sym.zeros_like(x)
    neg = (x == float("-inf")) if ctx.attr("detect_negative", 1) else mx.sym.zeros_like(x)
    return mx.sym.identity(pos + neg, name=ctx.name)


@converter("Round", since=11)
@converter("Round", since=22)
def round_(node, ctx):
    """ONNX rounds half to even; MXNet's round goes half away from zero and its rint is
    platform-dependent, so halves are resolved explicitly on the floor's parity."""
    return mx.sym.identity(round_half_even(ctx.input(0)), name=ctx.name)


def round_half_even(x):
    low = mx.sym.floor(x)
    frac = x - low
    parity = low - 2 * mx.sym.floor(low / 2)
    return low + (frac > 0.5) + (frac == 0.5) * parity
