"""Values known before run time: Constant, ConstantOfShape, Range, Shape, Size, EyeLike.

These converters return numpy arrays, never Symbols: Shape and Size read the static shape for
the declared inputs, so the shape arithmetic exporters emit folds away completely.
"""
from __future__ import annotations

import numpy as np

from pipeline.onnx.importer.registry import converter


@converter("Constant", since=1)
@converter("Constant", since=9)
@converter("Constant", since=11)
@converter("Constant", since=12)
@converter("Constant", since=13)
@converter("Constant", since=19)
@converter("Constant", since=21)
def constant(node, ctx):
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in node.attrs:
            return np.array(node.attrs[key], dtype=dtype)
    raise ctx.unsupported(f"attribute(s) {', '.join(node.attrs) or 'none'} (sparse or string values)")


@converter("ConstantOfShape", since=9)
@converter("ConstantOfShape", since=20)
@converter("ConstantOfShape", since=21)
def constant_of_shape(node, ctx):
    shape = [int(d) for d in ctx.require_const(0, "shape").reshape(-1)]
    value = ctx.attr("value", np.zeros(1, dtype=np.float32))
    return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)


@converter("Range", since=11)
def range_(node, ctx):
    start, limit, delta = (ctx.require_const(i, name).reshape(()) for i, name in
                           enumerate(("start", "limit", "delta")))
    return np.arange(start, limit, delta, dtype=np.asarray(start).dtype)


@converter("Shape", since=1)
@converter("Shape", since=13)
@converter("Shape", since=15)
@converter("Shape", since=19)
@converter("Shape", since=21)
def shape(node, ctx):
    dims = ctx.shape(0)
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    return np.array(dims[slice(start, end)], dtype=np.int64)


@converter("Size", since=1)
@converter("Size", since=13)
@converter("Size", since=19)
@converter("Size", since=21)
def size(node, ctx):
    return np.array(int(np.prod(ctx.shape(0), dtype=np.int64)), dtype=np.int64)


@converter("EyeLike", since=9)
@converter("EyeLike", since=22)
def eye_like(node, ctx):
    from pipeline.onnx.importer.modelfile import np_dtype

    rows, cols = ctx.shape(0)
    dtype = np_dtype(ctx.attr("dtype"), node.label) if "dtype" in node.attrs else ctx.dtype(0)
    return np.eye(rows, cols, k=ctx.attr("k", 0), dtype=dtype)
