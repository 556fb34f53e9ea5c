"""MXNet's oneDNN (MKLDNN) subgraph fusion on the graph view, made to fail loudly.

Shared by the `onednn_fuse` pass and the `onednn` target.

`Symbol.optimize_for(backend, args, aux, ctx, shape_dict=...)` returns the graph unchanged,
with only a log line, when the backend name is unknown (MXNet 1.9.1 registers 'MKLDNN' and
'MKLDNN_QUANTIZE'; 'ONEDNN' is a later name) or when no shapes are given. So `fuse` checks
that fused `_sg_mkldnn_*` nodes appear and raises OPT102 otherwise. A graph that is already
fused is returned as it is (fusing twice changes nothing).
"""
from __future__ import annotations

from pipeline.model import bf16
from pipeline.model.bundle import symbol_json
from pipeline.core.errors import StageError
from pipeline.graph import edit
from pipeline.graph.convert import from_json, to_json

BACKEND = "MKLDNN"
FUSED_PREFIX = "_sg_mkldnn_"


def is_fused(graph) -> bool:
    return any(graph.nodes[n]["op"].startswith(FUSED_PREFIX) for n in edit.op_nodes(graph))


def fuse_symbol(symbol_json: str, params, inputs, backend: str = BACKEND):
    """(fused symbol, {name: numpy} of every param the fused graph reads)."""
    import mxnet as mx

    if not mx.runtime.Features().is_enabled("MKLDNN"):
        raise StageError("this MXNet build has no oneDNN (MKLDNN) support", code="OPT103",
                         where="onednn_fuse", hint="install an MXNet build with MKLDNN enabled (the pip wheel has it)")
    sym = mx.sym.load_json(symbol_json)
    stored = {**params.arg, **params.aux}
    narrow = bf16.declared(symbol_json)  # an AMP bf16 graph fuses with its params in bf16
    args = bf16.to_ndarrays(stored, narrow, sym.list_arguments())
    aux = bf16.to_ndarrays(stored, narrow, sym.list_auxiliary_states())
    fused = sym.optimize_for(backend, args, aux, ctx=mx.cpu(), shape_dict={s.name: s.shape for s in inputs},
                             type_dict={s.name: s.dtype for s in inputs})
    values = {**args, **aux}
    return fused, {n: bf16.to_numpy(values[n]) for n in fused.list_arguments() + fused.list_auxiliary_states()
                   if n in values}


def fuse(graph, params, inputs, backend: str = BACKEND):
    """(fused graph, its params); raises OPT102 when MXNet fused nothing."""
    if is_fused(graph):
        return edit.clone(graph), params
    fused, values = fuse_symbol(to_json(graph), params, inputs, backend)
    new = from_json(symbol_json(fused), params=values, inputs=[s.name for s in inputs])
    if not is_fused(new):
        raise StageError(f"optimize_for('{backend}') fused nothing: no {FUSED_PREFIX}* node in the result",
                         code="OPT102", where="onednn_fuse",
                         hint="check the backend name (MXNet 1.9.1: MKLDNN) and that every input has a declared shape")
    aux = set(fused.list_auxiliary_states())
    return new, type(params)({n: v for n, v in values.items() if n not in aux},
                             {n: v for n, v in values.items() if n in aux})
