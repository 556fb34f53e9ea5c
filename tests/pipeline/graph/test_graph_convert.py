"""Symbol JSON <-> graph view: the round trip is lossless, on the zoo and on odd graphs."""
import json

import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.graph import GraphError, from_json, graph_of, random_feed, run_bundle, to_json, topo_order
from pipeline.measure.compare import compare
from pipeline.graph.onednn_fusion import fuse
from pipeline.model.zoo_bundle import zoo_bundle


def _structure(symbol_json: str) -> dict:
    data = json.loads(symbol_json)
    data.pop("node_row_ptr", None)
    return data


def _round_trip(bundle: ModelBundle) -> ModelBundle:
    graph, _ = graph_of(bundle)
    return bundle.evolve(stage="roundtrip", symbol_json=to_json(graph))


ZOO = [("resnet18_v1", 64), ("mobilenetv2_1.0", 64), ("squeezenet1.1", 224), ("vgg11_bn", 32)]


@pytest.mark.parametrize("name,side", ZOO)
def test_zoo_round_trip_is_identical(name, side):
    bundle = zoo_bundle(name, (1, 3, side, side))
    back = _round_trip(bundle)
    assert _structure(back.symbol_json) == _structure(bundle.symbol_json)
    sym, sym_back = bundle.symbol(), back.symbol()
    assert sym_back.list_arguments() == sym.list_arguments()
    assert sym_back.list_auxiliary_states() == sym.list_auxiliary_states()
    assert sym_back.list_outputs() == sym.list_outputs()
    feed = random_feed(bundle.inputs, seed=1)
    ref, got = run_bundle(bundle, feed), run_bundle(back, feed)
    assert all(np.array_equal(r, g) for r, g in zip(ref, got))


@pytest.mark.slow
@pytest.mark.parametrize("name,side", [("densenet121", 224), ("inceptionv3", 299), ("resnet50_v2", 224)])
def test_zoo_round_trip_large(name, side):
    bundle = zoo_bundle(name, (1, 3, side, side))
    back = _round_trip(bundle)
    assert _structure(back.symbol_json) == _structure(bundle.symbol_json)
    feed = random_feed(bundle.inputs)
    assert compare(run_bundle(bundle, feed), run_bundle(back, feed), atol=0, rtol=0).passed


def test_variables_are_labelled_by_kind():
    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    graph, params = graph_of(bundle)
    kinds = {n: d["kind"] for n, d in graph.nodes(data=True) if d["op"] == "null"}
    assert kinds["data"] == "input"
    assert {n for n, k in kinds.items() if k == "aux"} == set(bundle.aux_params)
    assert {n for n, k in kinds.items() if k == "param"} == set(bundle.arg_params)


def test_label_variable_is_free():
    sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc"), name="softmax")
    graph = from_json(sym.tojson(), params=["fc_weight", "fc_bias"], inputs=["data"])
    assert graph.nodes["softmax_label"]["kind"] == "free"


def test_edges_carry_output_index_and_input_position():
    x = mx.sym.var("x")
    parts = mx.sym.split(x, num_outputs=2, axis=1, name="split")
    y = mx.sym.elemwise_sub(parts[1], parts[0], name="sub")
    sq = mx.sym.elemwise_mul(y, y, name="sq")  # one producer feeding a consumer twice
    out = mx.sym.Group([sq, parts[1]])
    graph = from_json(out.tojson(), inputs=["x"])
    assert sorted((d["out"], d["pos"]) for _, _, d in graph.in_edges("sub", data=True)) == [(0, 1), (1, 0)]
    assert graph.number_of_edges("sub", "sq") == 2
    assert graph.graph["heads"] == [("sq", 0, 0), ("split", 1, 0)]
    assert _structure(to_json(graph)) == _structure(out.tojson())
    back = mx.sym.load_json(to_json(graph))
    feed = {"x": mx.nd.array(np.arange(8.0).reshape(2, 4))}
    for a, b in zip(out.eval(**feed), back.eval(**feed)):
        assert np.array_equal(a.asnumpy(), b.asnumpy())


def test_order_is_stable_topological_for_new_nodes():
    sym = mx.sym.relu(mx.sym.var("x"), name="r")
    graph = from_json(sym.tojson(), inputs=["x"])
    graph.add_node("late", op="null", name="late", attrs={}, order=-1.0, kind="param")
    order = topo_order(graph)
    assert order.index("late") < order.index("x") and order[-1] == "r"


def test_fused_graph_keeps_its_subgraphs():
    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    graph, params = graph_of(bundle)
    fused_graph, fused_params = fuse(graph, params, bundle.inputs)
    text = to_json(fused_graph)
    assert any(n.get("subgraphs") for n in json.loads(text)["nodes"])
    again = from_json(text, params=fused_params.names(), inputs=["data"])
    assert _structure(to_json(again)) == _structure(text)


def test_duplicate_names_are_refused():
    data = json.loads(mx.sym.relu(mx.sym.var("x"), name="r").tojson())
    data["nodes"].append({"op": "relu", "name": "r", "inputs": [[1, 0, 0]]})
    data["heads"] = [[2, 0, 0]]
    with pytest.raises(GraphError) as info:
        from_json(json.dumps(data))
    assert info.value.code == "GRF002" and info.value.where == "r"


def test_not_a_symbol_is_refused():
    with pytest.raises(GraphError) as info:
        from_json('{"nodes": 3}')
    assert info.value.code == "GRF001"


def test_bundle_spec_inputs_survive(tmp_path):
    bundle = zoo_bundle("squeezenet1.1", (1, 3, 224, 224))
    back = _round_trip(bundle)
    back.save(tmp_path)
    loaded = ModelBundle.load(tmp_path)
    assert loaded.inputs == [TensorSpec("data", (1, 3, 224, 224))]


def test_only_known_runtime_modules_are_imported():
    from pipeline.core.errors import BundleError
    from pipeline.model.runtime_modules import ensure_runtime_modules

    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    bundle.metadata["runtime_modules"] = ["pipeline.partition.runtime"]
    ensure_runtime_modules(bundle)
    bundle.metadata["runtime_modules"] = ["os"]
    with pytest.raises(BundleError) as info:
        ensure_runtime_modules(bundle)
    assert info.value.code == "BND005"


def test_a_cycle_is_refused_on_the_way_back():
    data = json.loads(mx.sym.relu(mx.sym.relu(mx.sym.var("x"), name="a"), name="b").tojson())
    data["nodes"][1]["inputs"] = [[2, 0, 0]]  # a reads b, b reads a
    with pytest.raises(GraphError) as info:
        to_json(from_json(json.dumps(data)))
    assert info.value.code == "GRF003"


def test_shape_inference_a_pass_reads_is_a_coded_refusal():
    """tensor_info (read by fold_batchnorm and strip_training) on a graph that cannot infer: OPT104, not RUN002."""
    import mxnet as mx
    import pytest

    from pipeline.core.errors import StageError
    from pipeline.graph import graph_of
    from pipeline.graph.shapes import tensor_info
    from pipeline.model.bundle import ModelBundle, TensorSpec

    sym = mx.sym.Convolution(mx.sym.var("data"), kernel=(5, 5), num_filter=1, no_bias=True, name="big_conv")
    bundle = ModelBundle.from_symbol(sym, {"big_conv_weight": mx.nd.ones((1, 1, 5, 5))}, {},
                                     [TensorSpec("data", (1, 1, 2, 2))])
    graph, _ = graph_of(bundle)
    with pytest.raises(StageError) as info:
        tensor_info(graph, bundle.inputs)
    assert info.value.code == "OPT104" and "big_conv" in info.value.message
