"""bf16 params in a bundle: stored widened to float32, narrowed where the graph declares bf16.

numpy has no bfloat16 (MXNet hands bf16 NDArrays to numpy as a uint16 record), so a bundle
keeps each bf16 param as the float32 array of the same value. That is exact: a bf16 value is a
float32 with the low 16 mantissa bits zero, so widening and narrowing again round-trips bit for
bit, and the bundle's sha256 covers the model that runs. Which params are bf16 is said by the
graph itself: MXNet's AMP marks each converted variable with `__dtype__` 12 (bfloat16), and
graph passes keep variable attributes. Every place that turns bundle params into NDArrays for
binding goes through `to_ndarrays`; every place that reads NDArrays back goes through `to_numpy`.
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping

import numpy as np

from pipeline.model.symbol_json import node_attrs

MX_DTYPE = np.dtype([("bfloat16", np.uint16)])  # how MXNet 1.9.1 names bfloat16 to numpy
TYPE_CODE = "12"  # mshadow's kBfloat16, as written in a variable's __dtype__ attribute


def declared(symbol_json: str) -> frozenset[str]:
    """The variables the graph declares bfloat16."""
    nodes = json.loads(symbol_json)["nodes"]
    return frozenset(n["name"] for n in nodes
                     if n["op"] == "null" and node_attrs(n).get("__dtype__") == TYPE_CODE)


def is_bf16(value) -> bool:
    return np.dtype(value.dtype) == MX_DTYPE


def to_numpy(value) -> np.ndarray:
    """An NDArray (or numpy array) as numpy; bfloat16 widened to float32, exactly."""
    if isinstance(value, np.ndarray):
        return value
    if is_bf16(value):
        # widened in numpy, not by NDArray.astype: an output oneDNN left in a blocked layout fails
        # that cast ("size of NDArray doesn't match the requested MKLDNN memory desc"), while
        # asnumpy reorders it first; the bits are a float32's upper half
        bits = np.ascontiguousarray(value.asnumpy()).view(np.uint16)
        return (bits.astype(np.uint32) << 16).view(np.float32)
    return value.asnumpy()


def to_ndarrays(params: Mapping[str, np.ndarray], bf16_names: Iterable[str],
                names: Iterable[str] | None = None) -> dict:
    """NDArrays of `params` (only `names`, when given), narrowed to bfloat16 where declared."""
    import mxnet as mx

    narrow = frozenset(bf16_names)
    out = {}
    for name in (params if names is None else [n for n in names if n in params]):
        value = params[name]
        array = mx.nd.array(value, dtype=value.dtype)
        out[name] = array.astype(MX_DTYPE) if name in narrow else array
    return out
