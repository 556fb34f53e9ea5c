"""Cast and CastLike. Bools travel as 0/1 numbers inside MXNet (its logical ops reject bool)."""
from __future__ import annotations

import mxnet as mx
import numpy as np

from pipeline.onnx.importer.modelfile import np_dtype
from pipeline.onnx.importer.registry import converter


def _cast(ctx, x, dtype: np.dtype):
    if dtype == np.bool_:
        return mx.sym.Cast(x != 0, dtype="float32", name=ctx.name)
    if ctx.dtype(0) == dtype:
        return mx.sym.identity(x, name=ctx.name)
    return mx.sym.Cast(x, dtype=dtype, name=ctx.name)


@converter("Cast", since=6)
@converter("Cast", since=9)
@converter("Cast", since=13)
@converter("Cast", since=19)
@converter("Cast", since=21)
@converter("Cast", since=23)
def cast(node, ctx):
    return _cast(ctx, ctx.input(0), np_dtype(ctx.attr("to"), node.label))


@converter("CastLike", since=15)
@converter("CastLike", since=19)
@converter("CastLike", since=21)
@converter("CastLike", since=23)
def cast_like(node, ctx):
    target = ctx.output_onnx_dtype(0) or ctx.dtype(1)
    return _cast(ctx, ctx.input(0), np.dtype(target))
