"""Symbol JSON validation: structure, indices, cycles, ops, attrs; legacy files still load."""
from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
import pytest

from pipeline.core.errors import ModelError
from pipeline.model.symbol_json import load_symbol, read_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _graph():
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    parts = mx.sym.split(fc, num_outputs=2, axis=1, name="split")
    return json.loads(mx.sym.Group([parts[0], parts[1]]).tojson())


def _write(tmp_path, graph) -> Path:
    path = tmp_path / "net-symbol.json"
    path.write_text(json.dumps(graph))
    return path


def test_a_valid_multi_output_graph_loads(tmp_path):
    sym, graph, _ = load_symbol(_write(tmp_path, _graph()))
    assert len(sym.list_outputs()) == 2 and graph["heads"][1][1] == 1


def test_the_legacy_pre_1_0_file_still_loads():
    sym, graph, _ = load_symbol(EXAMPLES / "legacy-mlp-symbol.json")
    assert "param" in graph["nodes"][3] and "fc2_weight" in sym.list_arguments()


def test_output_index_past_a_multi_output_node_is_refused(tmp_path):
    graph = _graph()
    graph["heads"][1][1] = 2  # split has outputs 0 and 1
    with pytest.raises(ModelError) as info:
        read_graph(_write(tmp_path, graph))
    assert info.value.code == "LDR104" and "node 4 'split'" in info.value.where


def test_truncation_anywhere_is_coded_with_line_and_column(tmp_path):
    text = json.dumps(_graph(), indent=1)
    for cut in range(0, len(text), max(1, len(text) // 40)):
        path = tmp_path / "cut-symbol.json"
        path.write_text(text[:cut])
        with pytest.raises(ModelError) as info:
            read_graph(path)
        assert info.value.code in ("MDL002", "LDR101"), cut
        if info.value.code == "MDL002":
            assert info.value.where.startswith(f"{path}:")


def test_python_in_an_attribute_is_never_evaluated(tmp_path):
    """A free-form attr (MXNet keeps unknown keys as strings) holding Python: loads, runs nothing."""
    marker = tmp_path / "PWNED"
    graph = _graph()
    fc = next(n for n in graph["nodes"] if n["name"] == "fc")
    fc.setdefault("attrs", {})["__note__"] = f"__import__('os').system('touch {marker}')"
    sym, _, _ = load_symbol(_write(tmp_path, graph))
    sym.infer_shape(data=(1, 3))
    assert sym.attr_dict()["fc"]["__note__"].startswith("__import__") and not marker.exists()


def test_deep_chains_are_checked_without_recursion(tmp_path):
    nodes = [{"op": "null", "name": "data", "inputs": []}]
    for i in range(1, 5000):
        nodes.append({"op": "relu", "name": f"r{i}", "inputs": [[i - 1, 0, 0]]})
    graph = {"nodes": nodes, "arg_nodes": [0], "heads": [[4999, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}}
    read_graph(_write(tmp_path, graph))


def test_node_attrs_reads_every_spelling_mxnet_wrote():
    """One reader for 1.x "attrs" and pre-1.0 "param"/"attr" (memory, the checks and the graph view use it)."""
    from pipeline.checks.subject import CheckSubject
    from pipeline.graph.convert import from_json
    from pipeline.model.symbol_json import node_attrs

    assert node_attrs({"op": "Pooling", "attrs": {"pool_type": "avg"}}) == {"pool_type": "avg"}
    assert node_attrs({"op": "Pooling", "param": {"pool_type": "avg"}, "attr": {"ctx_group": "a"}}) == \
        {"pool_type": "avg", "ctx_group": "a"}
    assert node_attrs({"op": "null", "name": "x", "attrs": None}) == {}
    legacy = json.dumps({"nodes": [{"op": "null", "name": "x", "inputs": []},
                                   {"op": "Dropout", "name": "d", "inputs": [[0, 0]], "param": {"p": "0.5"},
                                    "attr": {"mode": "always"}}], "arg_nodes": [0], "heads": [[1, 0]]})
    graph = from_json(legacy)
    assert graph.nodes["d"]["attrs"] == {"p": "0.5", "mode": "always"}
    assert CheckSubject.attrs(json.loads(legacy)["nodes"][1]) == graph.nodes["d"]["attrs"]
