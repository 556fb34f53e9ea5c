"""The subgraph custom op and the engine interface a remote accelerator will plug into."""
import json

import mxnet as mx
import numpy as np

from pipeline.graph import random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.partition.runtime import MXNetSubgraphEngine, SUBGRAPH_ENGINES
from stages.partition import PartitionParams, partition_bundle


class _CountingEngine(MXNetSubgraphEngine):
    """The local engine, counting calls: shows the engine is pluggable and loads once per bind."""

    name = "test-counting-graph"
    calls: list = []

    def load(self, key, symbol_json, params, input_shapes, input_dtypes):
        type(self).calls.append(("load", key, sorted(input_shapes), len(params)))
        super().load(key, symbol_json, params, input_shapes, input_dtypes)

    def forward(self, key, arrays):
        type(self).calls.append(("forward", key, sorted(arrays)))
        return super().forward(key, arrays)


def test_engine_is_chosen_by_node_attr_and_loads_once(monkeypatch):
    monkeypatch.setitem(SUBGRAPH_ENGINES._items, _CountingEngine.name, _CountingEngine)  # this test only
    bundle = zoo_bundle("mobilenetv2_1.0", (1, 3, 32, 32))
    new, result, _ = partition_bundle(bundle, PartitionParams("cpu", exclude_ops=("Pooling",)))
    data = json.loads(new.symbol_json)
    for node in data["nodes"]:
        if node["op"] == "Custom":
            node["attrs"]["engine"] = _CountingEngine.name
    new = new.evolve(stage="test", symbol_json=json.dumps(data))
    feed = random_feed(bundle.inputs)
    ref = run_bundle(bundle, feed)
    from pipeline.targets.cpu import CpuTarget

    with CpuTarget() as target:
        target.deploy(new)
        first, second = target.infer(feed), target.infer(feed)
    assert compare(ref, first, atol=1e-5, rtol=1e-5).passed and compare(first, second, atol=0, rtol=0).passed
    loads = [c for c in _CountingEngine.calls if c[0] == "load"]
    forwards = [c for c in _CountingEngine.calls if c[0] == "forward"]
    assert len(loads) == result.metrics["subgraphs"] and len(forwards) == 2 * len(loads)
    assert loads[0][2] == ["data"] and loads[0][3] > 0  # params reach the engine at load, not per forward
    assert all("data" not in c[2] or c[2] == ["data"] for c in forwards)


def test_custom_op_infers_param_shapes_from_data():
    """`infer_shape(data=...)` alone works on a partitioned graph, as on the original."""
    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    new, _, _ = partition_bundle(bundle, PartitionParams("cpu", exclude_ops=("Pooling",)))
    arg_shapes, out_shapes, aux_shapes = new.symbol().infer_shape(data=(1, 3, 32, 32))
    ref_args = dict(zip(bundle.symbol().list_arguments(), bundle.symbol().infer_shape(data=(1, 3, 32, 32))[0]))
    assert dict(zip(new.symbol().list_arguments(), arg_shapes)) == ref_args
    assert out_shapes == [(1, 1000)]


def test_registry_lists_the_local_engine():
    assert "mxnet" in SUBGRAPH_ENGINES and SUBGRAPH_ENGINES.get("mxnet") is MXNetSubgraphEngine
    engine = MXNetSubgraphEngine()
    sym = mx.sym.relu(mx.sym.var("x") * mx.sym.var("w"))
    engine.load("k", sym.tojson(), {"w": np.full((2,), 2, "float32")}, {"x": (2,)}, {"x": "float32"})
    (out,) = engine.forward("k", {"x": np.array([-1, 3], "float32")})
    np.testing.assert_array_equal(out, [0, 6])
    engine.unload("k")


def test_mxnet_refusing_a_subgraph_bind_is_a_coded_target_error():
    import pytest

    from pipeline.core.errors import TargetError

    bad = mx.sym.elemwise_add(mx.sym.var("data"), mx.sym.var("w"), name="sub_add")
    with pytest.raises(TargetError) as info:
        MXNetSubgraphEngine().load("sg0#0", bad.tojson(), {"w": np.ones(3, np.float32)}, {"data": (2,)},
                                   {"data": "float32"})
    err = info.value
    assert err.code == "TGT011" and err.where == "sg0#0" and "\n" not in err.one_line()
    assert "sub_add" in err.message
