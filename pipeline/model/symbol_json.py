"""Validate an MXNet symbol JSON before nnvm's loader sees it.

nnvm's `LoadJSON` checks little: an input entry pointing past the node list is a
`Check failed`, but a head or input entry naming an output index the node does not have
loads fine and segfaults at the first `infer_shape`, and a cycle recurses until the stack
is gone. A truncated file raises UnicodeDecodeError or JSONDecodeError in Python. Here
every such fault is a coded ModelError naming the file and the node (index and name).

Nothing in the file is evaluated: attrs stay strings handed to MXNet's own parameter
parser (dmlc::Parameter), which parses numbers and tuples, never Python.
Legacy pre-1.0 files ("param" instead of "attrs", "backward_source_id", no mxnet_version)
are accepted as MXNet's legacy_json_util upgrades them.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from pipeline.core.errors import ModelError
from pipeline.core.runtime_errors import first_error_line
from pipeline.core.registry import did_you_mean

MAX_BYTES = 256 << 20  # the largest graphs (not weights) are a few MB
_HINT = "give the -symbol.json that mx.model.save_checkpoint or HybridBlock.export wrote"


@functools.lru_cache(maxsize=1)
def registered_ops() -> frozenset:
    """Every operator name (and alias) this MXNet registers, from its C API."""
    import mxnet as mx

    return frozenset(mx.operator.get_all_registered_operators())


# Where a node's attributes live, oldest spelling first: pre-1.0 files wrote op parameters
# under "param" and user attributes under "attr"; 1.x writes both under "attrs". nnvm's loader
# reads all three into one dict, in this order, so a later spelling wins on a clash.
ATTR_KEYS = ("param", "attr", "attrs")


def node_attrs(node: dict) -> dict:
    """A node's attributes (strings), whichever MXNet version wrote the JSON: the one reader."""
    merged: dict = {}
    for key in ATTR_KEYS:
        merged.update(node.get(key) or {})
    return merged


def _node_where(path: str, index: int, node) -> str:
    name = node.get("name") if isinstance(node, dict) else None
    return f"{path}: node {index} '{name}'" if isinstance(name, str) else f"{path}: node {index}"


def read_graph(path: str | os.PathLike) -> tuple[dict, str]:
    """Parse and validate the file; returns (graph, text). Raises ModelError MDL002, LDR101-LDR106."""
    path = Path(path)
    shown = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelError("symbol file not found", where=shown, code="MDL001", hint=_HINT) from None
    if size > MAX_BYTES:
        raise ModelError(f"symbol file is {size} bytes, more than any graph needs ({MAX_BYTES})", where=shown,
                         code="MDL002", hint=_HINT)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ModelError(f"not UTF-8 text (byte {exc.start}): the file is damaged or not a symbol JSON",
                         where=f"{shown}:{line}:{col}", code="MDL002", hint=_HINT) from None
    try:
        graph = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        what = "the file ends in the middle of the JSON (truncated)" if truncated else f"invalid JSON: {exc.msg}"
        raise ModelError(what, where=f"{shown}:{exc.lineno}:{exc.colno}", code="MDL002", hint=_HINT) from None
    except RecursionError:
        raise ModelError("JSON nested too deeply", where=shown, code="MDL002", hint=_HINT) from None
    validate_graph(graph, shown)
    return graph, text


def validate_graph(graph, shown: str) -> None:
    """Structure, indices, acyclicity, op names and attr types of a parsed symbol JSON."""
    if not isinstance(graph, dict):
        raise ModelError(f"expected a JSON object with nodes/arg_nodes/heads, got a {type(graph).__name__}",
                         where=shown, code="LDR101", hint=_HINT)
    for key, kind in (("nodes", list), ("arg_nodes", list), ("heads", list)):
        if not isinstance(graph.get(key), kind):
            got = "missing" if key not in graph else f"a {type(graph[key]).__name__}"
            raise ModelError(f"'{key}' must be a list, is {got}", where=shown, code="LDR101", hint=_HINT)
    nodes = graph["nodes"]
    if not nodes:
        raise ModelError("the graph has no nodes", where=shown, code="LDR101", hint=_HINT)
    if "attrs" in graph and not isinstance(graph["attrs"], dict):
        raise ModelError("top-level 'attrs' must be an object", where=shown, code="LDR101", hint=_HINT)
    ops = registered_ops()
    names = set()
    for i, node in enumerate(nodes):
        where = _node_where(shown, i, node)
        _check_node(node, i, len(nodes), where, ops)
        names.add(node["name"])
    for k, nid in enumerate(graph["arg_nodes"]):
        if not _is_index(nid, len(nodes)) or nodes[nid]["op"] != "null":
            raise ModelError(f"arg_nodes[{k}] = {nid!r} is not the index of a variable ('null') node",
                             where=shown, code="LDR102", hint=_HINT)
    if not graph["heads"]:
        raise ModelError("the graph has no heads (outputs)", where=shown, code="LDR101", hint=_HINT)
    for k, entry in enumerate(graph["heads"]):
        if not _is_entry(entry) or not _is_index(entry[0], len(nodes)):
            raise ModelError(f"heads[{k}] = {entry!r} does not point at a node", where=shown, code="LDR102",
                             hint=_HINT)
    _check_acyclic(nodes, shown)
    _check_output_indices(graph, shown)


def _is_index(value, n: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def _is_entry(entry) -> bool:
    return (isinstance(entry, list) and len(entry) in (2, 3)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in entry))


def _check_node(node, i: int, count: int, where: str, ops: frozenset) -> None:
    if not isinstance(node, dict):
        raise ModelError(f"node {i} is a {type(node).__name__}, not an object", where=where, code="LDR103",
                         hint=_HINT)
    for key in ("op", "name"):
        if not isinstance(node.get(key), str):
            raise ModelError(f"node {i} has no string '{key}'", where=where, code="LDR103", hint=_HINT)
    inputs = node.get("inputs", [])
    if not isinstance(inputs, list):
        raise ModelError("'inputs' must be a list of [node, output, version] entries", where=where,
                         code="LDR103", hint=_HINT)
    for k, entry in enumerate(inputs):
        if not _is_entry(entry):
            raise ModelError(f"inputs[{k}] = {entry!r} is not a [node, output(, version)] entry", where=where,
                             code="LDR103", hint=_HINT)
        if entry[0] >= count:
            raise ModelError(f"inputs[{k}] points at node {entry[0]}, but the graph has {count} nodes",
                             where=where, code="LDR104", hint=_HINT)
    for key in ATTR_KEYS:
        attrs = node.get(key, {})
        if not isinstance(attrs, dict):
            raise ModelError(f"'{key}' must be an object of strings", where=where, code="LDR106", hint=_HINT)
        for name, value in attrs.items():
            if not isinstance(value, str):
                raise ModelError(f"attribute {name} = {json.dumps(value)[:60]} is not a string (MXNet stores every "
                                 f"attribute as a string)", where=where, code="LDR106", hint=_HINT)
    op = node["op"]
    if op == "null":
        if inputs:
            raise ModelError("a variable ('null') node has inputs", where=where, code="LDR103", hint=_HINT)
    elif op not in ops:
        raise ModelError(f"unknown operator '{op}'{did_you_mean(op, ops)}", where=where, code="LDR105",
                         hint="MXNet 1.9.1 has no such operator: the graph comes from another build or a "
                              "custom operator library, or the file was edited")


def _check_acyclic(nodes: list, shown: str) -> None:
    """Iterative DFS (a recursive one would overflow on deep graphs, as nnvm does on cycles)."""
    state = [0] * len(nodes)  # 0 new, 1 on stack, 2 done
    for root in range(len(nodes)):
        if state[root]:
            continue
        stack = [(root, iter(nodes[root].get("inputs", [])))]
        state[root] = 1
        while stack:
            nid, it = stack[-1]
            entry = next(it, None)
            if entry is None:
                state[nid] = 2
                stack.pop()
                continue
            child = entry[0]
            if state[child] == 1:
                raise ModelError(f"the graph has a cycle through node {child} '{nodes[child]['name']}'",
                                 where=_node_where(shown, nid, nodes[nid]), code="LDR104",
                                 hint="inputs must point at earlier nodes: the file was edited or damaged")
            if state[child] == 0:
                state[child] = 1
                stack.append((child, iter(nodes[child].get("inputs", []))))


def _check_output_indices(graph: dict, shown: str) -> None:
    """Every [node, output] entry must name an output the node has (else infer_shape segfaults)."""
    nodes = graph["nodes"]
    wanted: dict[int, int] = {}
    uses = [(e, i) for i, n in enumerate(nodes) for e in n.get("inputs", [])] + [(e, None) for e in graph["heads"]]
    for entry, user in uses:
        wanted[entry[0]] = max(wanted.get(entry[0], 0), entry[1])
    for nid, highest in sorted(wanted.items()):
        if highest == 0:
            continue
        node = nodes[nid]
        have = 1 if node["op"] == "null" else _num_outputs(node, shown, nid)
        if highest >= have:
            users = [("heads" if u is None else f"node {u} '{nodes[u]['name']}'") for e, u in uses
                     if e[0] == nid and e[1] >= have]
            raise ModelError(f"{users[0]} uses output {highest} of node {nid} '{node['name']}', which has "
                             f"{have} output(s)", where=_node_where(shown, nid, node), code="LDR104", hint=_HINT)


def _num_outputs(node: dict, shown: str, nid: int) -> int:
    """Load the node alone (fresh variable inputs) and count its outputs from the internals."""
    import mxnet as mx

    inputs = node.get("inputs", [])
    probe = [{"op": "null", "name": f"__probe_in{k}", "inputs": []} for k in range(len(inputs))]
    one = {key: value for key, value in node.items() if key not in ("inputs", "backward_source_id")}
    one["inputs"] = [[k, 0, 0] for k in range(len(inputs))]
    graph = {"nodes": probe + [one], "arg_nodes": list(range(len(inputs))), "heads": [[len(inputs), 0, 0]],
             "attrs": {"mxnet_version": ["int", 10901]}}
    if "param" in node:
        graph.pop("attrs")
    try:
        sym = mx.sym.load_json(json.dumps(graph))
        return len(sym.get_internals().list_outputs()) - len(inputs)
    except mx.MXNetError as exc:
        raise ModelError(f"MXNet cannot build this node: {first_error_line(exc)}",
                         where=_node_where(shown, nid, node), code="MDL002", hint=_HINT) from None


def load_symbol(path: str | os.PathLike):
    """(mx.Symbol, graph, text) for a validated symbol file; native refusals become MDL002."""
    import mxnet as mx

    graph, text = read_graph(path)
    try:
        sym = mx.sym.load_json(text)
    except mx.MXNetError as exc:
        line = first_error_line(exc)
        raise ModelError(f"MXNet cannot load the graph: {line}", where=_where_from_mxnet(str(path), graph, line),
                         code="MDL002", hint="an attribute value MXNet's operator cannot parse, or an operator "
                                             "input count it does not accept") from None
    return sym, graph, text


def _where_from_mxnet(shown: str, graph: dict, line: str) -> str:
    """MXNet names the node as `Op(name="fc1", ...)` or `Op fc1 of type ...`: point at it."""
    for i, node in enumerate(graph["nodes"]):
        if node["op"] != "null" and (f'name="{node["name"]}"' in line or f"Op {node['name']} of" in line):
            return _node_where(shown, i, node)
    return shown
