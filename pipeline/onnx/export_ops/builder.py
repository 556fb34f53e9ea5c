"""A converter's ONNX nodes and constants, every name prefixed by its MXNet node's name.

mx2onnx converters return a node list and append constants to the export's shared
initializer list; names must be unique across the whole graph, so each tensor a converter
makes is `<node name>_<suffix>`. `op` returns its output name(s), so converters read as
expressions instead of repeating names.
"""
from __future__ import annotations

import itertools

import numpy as np


class Builder:
    def __init__(self, name: str, initializer: list):
        self.name, self.initializer, self.nodes = name, initializer, []
        self._serial = itertools.count()

    def n(self, suffix: str) -> str:
        return f"{self.name}_{suffix}"

    def const(self, values, dtype=np.int64, suffix: str | None = None) -> str:
        from onnx import numpy_helper

        name = self.n(suffix or f"c{next(self._serial)}")
        self.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs, out=None, *, outputs: int = 1, **attrs):
        """Add one node; `out` names its (first) output (a full name, or a suffix when it has no
        prefix); returns the output name, or the list of them when `outputs` > 1."""
        from onnx.helper import make_node

        if out is None:
            out = self.n(f"{op_type.lower()}{next(self._serial)}")
        elif not out.startswith(self.name):
            out = self.n(out)
        names = [out] + [f"{out}_{i}" for i in range(1, outputs)]
        self.nodes.append(make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

    def dim(self, tensor: str, axis: int) -> str:
        """`tensor`'s length along `axis` as a 1-element int64 tensor (static shapes fold it)."""
        shape = self.op("Shape", [tensor])
        return self.op("Slice", [shape, self.const([axis]), self.const([axis + 1 if axis != -1 else 2**62])])

    def arange(self, length: str) -> str:
        """0 .. length-1 as float32, `length` a 1-element int64 (from `dim`)."""
        return self.cast(self.op("Range", [self.const(0), self.op("Squeeze", [length, self.const([0])]),
                                           self.const(1)]), np.float32)

    def cast(self, tensor: str, dtype) -> str:
        from onnx import helper

        return self.op("Cast", [tensor], to=int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype))))


def floats(text, default) -> list[float]:
    """A tuple attribute as MXNet writes it ("(0.1, 0.1)", "[2,3]", "4") as floats."""
    if text in (None, ""):
        return list(default)
    return [float(v) for v in str(text).strip("()[] ").replace(",", " ").split()]


def flag(attrs: dict, key: str, default: bool) -> bool:
    return str(attrs.get(key, default)) in ("True", "1", "true")
