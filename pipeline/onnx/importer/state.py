"""The conversion state of one graph: tensor name -> Symbol or static value, and the params.

A static value becomes a graph parameter (an MXNet variable plus an entry in the params) only
when a converter asks for it as a Symbol, so int64 shape tensors consumed by Reshape or Expand
as attributes never reach the checkpoint.
"""
from __future__ import annotations

import re

import numpy as np

from pipeline.onnx.importer import errors

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def mx_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """ONNX shape -> the MXNet shape that carries it (a scalar travels as (1,))."""
    return tuple(shape) if len(shape) else (1,)


class GraphState:
    def __init__(self, onnx_info: dict):
        self.symbols: dict = {}
        self.statics: dict[str, np.ndarray] = {}
        self.params: dict[str, np.ndarray] = {}
        self.var_shapes: dict[str, tuple[int, ...]] = {}
        self.var_dtypes: dict[str, np.dtype] = {}
        self.zero_sized: dict[str, tuple[int, ...]] = {}
        self.selections: dict = {}  # tensor -> selection.Selection: padded, data-dependent rows
        self.onnx_info = onnx_info  # tensor name -> (np.dtype | None, tuple of int|None | None)
        self._used: set[str] = set()
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._dtypes: dict[str, np.dtype] = {}

    # -- names -----------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        base = _UNSAFE.sub("_", base) or "node"
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def claim(self, name: str) -> None:
        self._used.add(name)

    # -- variables -------------------------------------------------------------------------
    def add_input(self, name: str, shape: tuple[int, ...], dtype: np.dtype):
        import mxnet as mx

        self.claim(name)
        if 0 in shape:  # an error only if a converter needs it as a graph value (it may be frozen)
            self.zero_sized[name] = tuple(shape)
            self.var_dtypes[name] = np.dtype(dtype)
            return
        self.var_shapes[name] = mx_shape(shape)
        self.var_dtypes[name] = np.dtype(dtype)
        var = mx.sym.var(name, shape=mx_shape(shape), dtype=np.dtype(dtype))
        if np.dtype(dtype) == np.bool_:
            # MXNet's logical and arithmetic ops reject bool; inside the graph bools are 0/1 floats.
            var = mx.sym.Cast(var, dtype="float32", name=self.unique_name(f"{name}_asfloat"))
        self.symbols[name] = var

    def symbol(self, tensor: str):
        """The Symbol of a tensor, turning a static value into a parameter on first use."""
        if tensor in self.symbols:
            return self.symbols[tensor]
        if tensor in self.statics:
            return self._materialize(tensor)
        if tensor in self.zero_sized:
            raise errors.OnnxImportError(f"input '{tensor}' has a zero-sized shape {self.zero_sized[tensor]}",
                                         code=errors.UNSUPPORTED_TYPE, where=tensor,
                                         hint="MXNet 1.9.1's legacy shapes read 0 as 'unknown'; declare a size")
        raise errors.OnnxImportError(f"tensor '{tensor}' is used before any node produces it",
                                     code=errors.UNREADABLE, where=tensor,
                                     hint="the graph is not topologically sorted or an input is missing")

    def _materialize(self, tensor: str):
        import mxnet as mx

        value = self.statics[tensor]
        if value.size == 0:
            raise errors.OnnxImportError(f"empty tensor '{tensor}' cannot be a graph value in MXNet 1.9.1",
                                         code=errors.UNSUPPORTED_TYPE, where=tensor,
                                         hint="MXNet's legacy shapes cannot hold a zero-sized dimension")
        if value.dtype == np.bool_:
            value = value.astype(np.float32)
        name = self.unique_name(tensor)
        shape = mx_shape(value.shape)
        self.params[name] = np.ascontiguousarray(value.reshape(shape))
        self.var_shapes[name] = shape
        self.var_dtypes[name] = value.dtype
        var = mx.sym.var(name, shape=shape, dtype=value.dtype)
        self.symbols[tensor] = var
        return var

    # -- static facts ----------------------------------------------------------------------
    def _onnx_rank(self, tensor: str) -> int | None:
        info = self.onnx_info.get(tensor)
        return None if info is None or info[1] is None else len(info[1])

    def shape_of(self, tensor: str) -> tuple[int, ...]:
        if tensor in self.statics:
            return tuple(self.statics[tensor].shape)
        if tensor in self.zero_sized:
            return self.zero_sized[tensor]
        if tensor not in self._shapes:
            shape = tuple(int(d) for d in self._infer(tensor, "shape"))
            if shape == (1,) and self._onnx_rank(tensor) == 0:
                shape = ()
            self._shapes[tensor] = shape
        return self._shapes[tensor]

    def dtype_of(self, tensor: str) -> np.dtype:
        if tensor in self.statics:
            return self.statics[tensor].dtype
        if tensor in self.zero_sized:
            return self.var_dtypes[tensor]
        if tensor not in self._dtypes:
            self._dtypes[tensor] = np.dtype(self._infer(tensor, "type"))
        return self._dtypes[tensor]

    def _infer(self, tensor: str, what: str):
        """MXNet's own inference of `tensor`'s shape or type from the declared inputs' (one output)."""
        import mxnet as mx

        sym = self.symbol(tensor)
        known, infer = (self.var_shapes, sym.infer_shape) if what == "shape" else (self.var_dtypes, sym.infer_type)
        try:
            _, outs, _ = infer(**{n: known[n] for n in sym.list_arguments() if n in known})
        except mx.MXNetError as exc:
            raise errors.OnnxImportError(f"MXNet cannot infer the {what} of '{tensor}': {_first_line(exc)}",
                                         code=errors.MXNET_REJECTED, where=tensor,
                                         hint="check the declared input shapes") from None
        if outs is None or outs[0] is None:
            raise errors.OnnxImportError(f"MXNet cannot infer the {what} of '{tensor}'", code=errors.MXNET_REJECTED,
                                         where=tensor, hint="check the declared input shapes")
        return outs[0]


def _first_line(exc: Exception) -> str:
    from pipeline.core.runtime_errors import first_error_line

    return first_error_line(exc)
