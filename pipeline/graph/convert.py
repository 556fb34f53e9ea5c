"""Symbol JSON <-> networkx.MultiDiGraph, losslessly.

Nodes are keyed by their MXNet name (unique in every graph MXNet or Gluon writes) and carry
`op` ("null" for variables), `name`, `attrs` (strings, as in the JSON), `kind` for variables
("param", "aux", "input" or "free": a free variable is an argument that is neither a declared
input nor a stored param, e.g. a training label), `order` (the position in the source JSON,
used to keep the emitted node order stable) and, for fused ops, the raw `subgraphs` list.
Edges go producer -> consumer and carry `out` (the producer's output index), `pos` (the
consumer's input position) and `version` (the JSON's third field, kept verbatim). A
MultiDiGraph because one producer can feed one consumer twice (`x * x`).

Graph-level data: `heads` [(node, out, version)] and the JSON's top-level `attrs`
(`mxnet_version`). `to_json` emits nodes in the lexicographic topological order keyed by
`order`, so an untouched graph comes back byte-for-byte and `list_arguments()` /
`list_auxiliary_states()` (which MXNet derives from the structure by DFS from the heads) keep
their order.
"""
from __future__ import annotations

import json

import networkx as nx

from pipeline.core.errors import InternalError, MxdeployError
from pipeline.model.symbol_json import node_attrs


class GraphError(MxdeployError):
    """A symbol JSON that the graph view cannot represent faithfully."""

    code = "GRF001"


VARIABLE_KINDS = ("param", "aux", "input", "free")


def _aux_names(symbol_json: str) -> set[str]:
    import mxnet as mx

    return set(mx.sym.load_json(symbol_json).list_auxiliary_states())


def from_json(symbol_json: str, *, params=(), inputs=()) -> nx.MultiDiGraph:
    """The graph view of a symbol JSON; `params` / `inputs` are names used to label variables."""
    try:
        data = json.loads(symbol_json)
        nodes = data["nodes"]
        heads = data["heads"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphError(f"not a symbol JSON ({exc})", hint="pass the text of a -symbol.json file") from None
    aux = _aux_names(symbol_json)
    params, inputs = set(params), set(inputs)
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node["name"] in seen:
            raise GraphError(f"node name '{node['name']}' is used by nodes {seen[node['name']]} and {i}",
                             where=node["name"], code="GRF002",
                             hint="give every node a unique name (re-export the model from Gluon)")
        seen[node["name"]] = i
    graph = nx.MultiDiGraph()
    for i, node in enumerate(nodes):
        name = node["name"]
        info = {"op": node["op"], "name": name, "attrs": node_attrs(node),
                "order": float(i)}
        if node.get("subgraphs"):
            info["subgraphs"] = node["subgraphs"]
        if node["op"] == "null":
            info["kind"] = ("aux" if name in aux else "input" if name in inputs
                            else "param" if name in params else "free")
        graph.add_node(name, **info)
        for pos, entry in enumerate(node["inputs"]):
            src = nodes[entry[0]]["name"]
            graph.add_edge(src, name, out=int(entry[1]), pos=pos, version=int(entry[2]) if len(entry) > 2 else 0)
    graph.graph["heads"] = [(nodes[h[0]]["name"], int(h[1]), int(h[2]) if len(h) > 2 else 0) for h in heads]
    graph.graph["attrs"] = dict(data.get("attrs", {}))
    return graph


def topo_order(graph: nx.MultiDiGraph) -> list[str]:
    """A stable topological order: ties broken by each node's `order` (then its name)."""
    try:
        return list(nx.lexicographical_topological_sort(graph, key=lambda n: (graph.nodes[n]["order"], n)))
    except nx.NetworkXUnfeasible:
        raise GraphError("the graph has a cycle", code="GRF003",
                         hint="fix the symbol JSON; if an mxdeploy pass made it, report that pass") from None


def node_inputs(graph: nx.MultiDiGraph, name: str) -> list[tuple[str, int, int]]:
    """The (producer, out, version) entries of a node, by input position."""
    entries = sorted((d["pos"], u, d["out"], d["version"]) for u, _, d in graph.in_edges(name, data=True))
    positions = [e[0] for e in entries]
    if positions != list(range(len(positions))):  # only a pass can leave a gap: a bug, not user input
        raise InternalError(f"node '{name}' has input positions {positions}: a pass left a gap in its inputs")
    return [(u, out, version) for _, u, out, version in entries]


def to_json(graph: nx.MultiDiGraph) -> str:
    """Symbol JSON of the graph (nodes in stable topological order; node_row_ptr left to MXNet)."""
    order = topo_order(graph)
    index = {name: i for i, name in enumerate(order)}
    nodes = []
    for name in order:
        info = graph.nodes[name]
        node = {"op": info["op"], "name": info["name"]}
        if info["attrs"]:
            node["attrs"] = dict(info["attrs"])
        node["inputs"] = [[index[u], out, version] for u, out, version in node_inputs(graph, name)]
        if info.get("subgraphs"):
            node["subgraphs"] = info["subgraphs"]
        nodes.append(node)
    data = {
        "nodes": nodes,
        "arg_nodes": [i for i, name in enumerate(order) if graph.nodes[name]["op"] == "null"],
        "heads": [[index[n], out, version] for n, out, version in graph.graph["heads"]],
        "attrs": dict(graph.graph.get("attrs", {})),
    }
    return json.dumps(data, indent=2)
