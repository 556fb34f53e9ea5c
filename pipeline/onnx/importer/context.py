"""What a converter sees: its node's inputs as Symbols or static values, attrs, shapes, dtypes.

ONNX has rank-0 tensors; MXNet 1.9.1's legacy Symbol API does not (shape () means "unknown"),
so a scalar travels through the MXNet graph as shape (1,). `shape(i)` and `rank(i)` answer in
ONNX terms (a scalar has shape ()), using ONNX's own shape inference where MXNet cannot tell.
Static values (initializers, Constants, folded results) are kept as exact numpy arrays and
become graph parameters only when a converter asks for them as a Symbol.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.onnx.importer import errors
from pipeline.onnx.importer.registry import OnnxNode

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.onnx.importer.state import GraphState


class ConvertContext:
    """The view of one node during conversion; converters never touch GraphState directly."""

    def __init__(self, node: OnnxNode, state: "GraphState", opset: int, name: str):
        self.node = node
        self.state = state
        self.opset = opset
        self.name = name

    # -- inputs ----------------------------------------------------------------------------
    @property
    def num_inputs(self) -> int:
        return len(self.node.inputs)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.inputs) and self.node.inputs[i] != ""

    def input(self, i: int):
        """Input i as a Symbol, or None for an absent or empty ("") optional input."""
        if not self.has_input(i):
            return None
        return self.state.symbol(self.node.inputs[i])

    def inputs(self) -> list:
        return [self.input(i) for i in range(self.num_inputs) if self.has_input(i)]

    def const(self, i: int) -> np.ndarray | None:
        """Input i's value when it is statically known, else None (also for absent inputs)."""
        if not self.has_input(i):
            return None
        return self.state.statics.get(self.node.inputs[i])

    def require_const(self, i: int, what: str) -> np.ndarray:
        """Input i's static value; a coded error naming the node when it is computed at run time."""
        value = self.const(i)
        if value is None:
            raise errors.DynamicValueError(self.node.inputs[i],
                f"{self.node.op_type} node '{self.node.label}' needs its {what} (input '{self.node.inputs[i]}') "
                f"known before run time, but it is computed from a graph input",
                code=errors.DYNAMIC_VALUE, where=self.node.label,
                hint="declare static input shapes with --input so shape arithmetic folds, or make the value a constant")
        return value

    def attr(self, name: str, default: Any = None) -> Any:
        return self.node.attrs.get(name, default)

    # -- static facts ----------------------------------------------------------------------
    def shape(self, i: int) -> tuple[int, ...]:
        """The static shape of input i for the declared input shapes, in ONNX terms."""
        return self.state.shape_of(self.node.inputs[i])

    def rank(self, i: int) -> int:
        return len(self.shape(i))

    def dtype(self, i: int) -> np.dtype:
        return self.state.dtype_of(self.node.inputs[i])

    def output_onnx_dtype(self, k: int = 0) -> np.dtype | None:
        """The element type ONNX shape inference gives output k (None when unknown)."""
        if k >= len(self.node.outputs):
            return None
        info = self.state.onnx_info.get(self.node.outputs[k])
        return None if info is None else info[0]

    def sub(self, tag: str) -> str:
        """A unique MXNet name for a helper op of this node."""
        return f"{self.name}_{tag}"

    def unsupported(self, what: str, hint: str = "") -> errors.OnnxImportError:
        """An error for an attribute value or input combination this converter cannot map."""
        return errors.OnnxImportError(
            f"{self.node.op_type} node '{self.node.label}' (opset {self.opset}): {what} is not supported",
            code=errors.UNSUPPORTED_ATTR, where=self.node.label,
            hint=hint or "re-export the model without it, or file an issue with the model")


def param(ctx: ConvertContext, value: np.ndarray, tag: str):
    """A new graph parameter holding `value` (weights re-laid out, static index tables)."""
    key = f"{ctx.name}__{tag}"
    ctx.state.statics[key] = np.asarray(value)
    return ctx.state.symbol(key)


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def reshape(ctx: ConvertContext, sym, shape, tag: str = "reshape"):
    """Reshape to a static ONNX shape (a scalar becomes MXNet's (1,))."""
    import mxnet as mx

    from pipeline.onnx.importer.state import mx_shape

    return mx.sym.reshape(sym, shape=mx_shape(tuple(int(d) for d in shape)), name=ctx.sub(tag))
