"""Spectral windows (opset 17): static functions of a static size, returned as numpy values."""
from __future__ import annotations

import numpy as np

from pipeline.onnx.importer.modelfile import np_dtype
from pipeline.onnx.importer.registry import converter

_COSINES = {"HannWindow": (0.5, 0.5, 0.0), "HammingWindow": (25 / 46, 21 / 46, 0.0),
            "BlackmanWindow": (0.42, 0.5, 0.08)}


@converter("HannWindow", since=17)
@converter("HammingWindow", since=17)
@converter("BlackmanWindow", since=17)
def window(node, ctx):
    """a0 - a1 cos(2 pi n / N') + a2 cos(4 pi n / N'), N' = size if periodic else size - 1."""
    size = int(ctx.require_const(0, "size").reshape(()))
    denom = size if ctx.attr("periodic", 1) else size - 1
    a0, a1, a2 = _COSINES[node.op_type]
    n = np.arange(size, dtype=np.float64)
    values = a0 - a1 * np.cos(2 * np.pi * n / denom) + a2 * np.cos(4 * np.pi * n / denom)
    return values.astype(np_dtype(ctx.attr("output_datatype", 1), node.label))
