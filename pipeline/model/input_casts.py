"""Declared input dtypes a Gluon block does not compute in: traced in its dtype, Cast at the input.

GluonNLP's encoders take a `valid_length` that users (and the issue's contract) declare int32,
while the block adds it to float32 tensors: MXNet's type inference refuses the mix ("Incompatible
attr in node ..._broadcast_add0 ... expected int32, got float32"), imperatively and hybridized.
The sound form of that declaration is the one MXNet users write by hand: the graph input keeps
the declared dtype (so the Symbol, the ONNX file and every target take int32) and a `Cast` to the
dtype the block's parameters hold feeds the rest of the graph. Only whole numbers below the float
dtype's exact-integer limit (2**24 for float32) survive the cast exactly; a declared range past it
keeps the original error.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from pipeline.model.bundle import TensorSpec

METADATA_KEY = "input_casts"  # bundle.metadata: {input name: the dtype the graph casts it to}


def compute_dtype(block) -> str:
    """The floating dtype most of the block's parameters hold (float32 for a block with none)."""
    counts = Counter(np.dtype(p.dtype).name for p in block.collect_params().values()
                     if np.issubdtype(np.dtype(p.dtype), np.floating))
    return counts.most_common(1)[0][0] if counts else "float32"


def _exact(spec: TensorSpec, dtype: str) -> bool:
    """Every value the declaration allows survives the cast to `dtype` (its range, else the dtype's)."""
    src, dst = np.dtype(spec.dtype), np.dtype(dtype)
    if np.issubdtype(src, np.floating):
        return src.itemsize <= dst.itemsize
    low, high = (spec.range[0], spec.range[1] - 1) if spec.range is not None else \
        (np.iinfo(src).min, np.iinfo(src).max)
    limit = 2 ** (np.finfo(dst).nmant + 1)  # whole numbers up to here are exact in dst
    return max(abs(low), abs(high)) <= limit


def planned_casts(block, inputs: list[TensorSpec]) -> dict[str, str]:
    """{input: compute dtype} for each declared input of another dtype the cast keeps exact."""
    dtype = compute_dtype(block)
    return {s.name: dtype for s in inputs if s.dtype != dtype and _exact(s, dtype)}


def traced_dtypes(inputs: list[TensorSpec], casts: dict[str, str]) -> list[str]:
    """The dtype each input is traced (and run imperatively) in."""
    return [casts.get(s.name, s.dtype) for s in inputs]


def cast_inputs(sym, inputs: list[TensorSpec], casts: dict[str, str]):
    """`sym` with each cast input re-declared in its declared dtype and a Cast node after it."""
    import json

    import mxnet as mx

    taken = {n["name"] for n in json.loads(sym.tojson())["nodes"]}
    replacements = {}
    for spec in inputs:
        if spec.name not in casts:
            continue
        node = f"{spec.name}_cast"
        while node in taken:
            node += "_"
        taken.add(node)
        replacements[spec.name] = mx.sym.Cast(mx.sym.var(spec.name, dtype=spec.dtype), dtype=casts[spec.name],
                                              name=node)
    return sym(**replacements) if replacements else sym
