"""Between a ModelBundle and the (graph, ParamStore) pair the passes work on."""
from __future__ import annotations

import networkx as nx

from pipeline.model.bundle import ModelBundle
from pipeline.graph.convert import from_json, to_json
from pipeline.graph.param_store import ParamStore


def graph_of(bundle: ModelBundle) -> tuple[nx.MultiDiGraph, ParamStore]:
    """The graph view of a bundle and its params (arrays shared, not copied: passes never mutate them)."""
    params = ParamStore(dict(bundle.arg_params), dict(bundle.aux_params))
    graph = from_json(bundle.symbol_json, params=params.names(), inputs=[s.name for s in bundle.inputs])
    return graph, params


def bundle_from_graph(bundle: ModelBundle, graph: nx.MultiDiGraph, params: ParamStore, *,
                      stage: str, details: dict | None = None) -> ModelBundle:
    """`bundle` evolved to hold `graph` and the params its variables name, with a history entry.

    Which params are arg and which aux is decided by the new graph (MXNet derives it from the
    consuming ops), not by where a pass happened to put them.
    """
    import mxnet as mx

    symbol_json = to_json(graph)
    sym = mx.sym.load_json(symbol_json)
    arg = {n: params.get(n) for n in sym.list_arguments() if n in params}
    aux = {n: params.get(n) for n in sym.list_auxiliary_states() if n in params}
    arguments = set(sym.list_arguments())
    inputs = [s for s in bundle.inputs if s.name in arguments]  # e.g. a label input strip_training dropped
    return bundle.evolve(stage=stage, details=details, symbol_json=symbol_json, arg_params=arg,
                         aux_params=aux, inputs=inputs, outputs=list(sym.list_outputs()))
