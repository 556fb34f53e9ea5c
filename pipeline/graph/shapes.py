"""Shapes and dtypes of every tensor of the graph, from MXNet's own inference."""
from __future__ import annotations

import networkx as nx
import numpy as np

from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import runtime_call
from pipeline.model.bundle import TensorSpec
from pipeline.graph.convert import to_json


def tensor_info(graph: nx.MultiDiGraph, inputs: list[TensorSpec]) -> dict[tuple[str, int], tuple[tuple, str]]:
    """{(node, out): (shape, dtype)} for every output of every node, inferred from the inputs.

    `get_internals()` lists each node's outputs consecutively; the node a slot belongs to is
    read from the slot's own symbol, so multi-output ops map to the right indices.
    """
    import mxnet as mx

    sym = mx.sym.load_json(to_json(graph))
    internals = sym.get_internals()
    shapes = {s.name: s.shape for s in inputs}
    dtypes = {s.name: np.dtype(s.dtype) for s in inputs}
    with runtime_call("mxnet", f"the shape and type inference a graph pass reads (inputs {shapes})", code="OPT104",
                      error=StageError, nodes=[n for n in graph.nodes if graph.nodes[n]["op"] != "null"],
                      hint="declare the input shapes and dtypes the graph accepts (`pipeline check` binds it)"):
        _, out_shapes, _ = internals.infer_shape(**shapes)
        _, out_types, _ = internals.infer_type(**dtypes)
    info, counts = {}, {}
    for k in range(len(internals.list_outputs())):
        name = internals[k].name
        out = counts.get(name, 0)
        counts[name] = out + 1
        info[(name, out)] = (tuple(out_shapes[k]), np.dtype(out_types[k]).name)
    return info


def nbytes(shape: tuple, dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize

