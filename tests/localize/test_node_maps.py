"""The node maps the exporter and the importer record, which matching relies on."""
from __future__ import annotations

import json

from pipeline.localize.mxnet_side import MXNetSide
from pipeline.localize.onnx_side import OnnxSide
from pipeline.localize.matching import match
from pipeline.model.resolve import load_model, parse_input_arg
from pipeline.onnx.export import NODE_MAP_KEY, export_bundle, to_onnx, valid_node_map


def _bundle():
    return load_model("resnet18_v1", [parse_input_arg("data=1,3,32,32")])


def test_the_export_maps_every_mxnet_node_to_the_tensor_that_carries_it():
    bundle = _bundle()
    model = to_onnx(bundle)
    entries = json.loads(next(p.value for p in model.metadata_props if p.key == NODE_MAP_KEY))
    ops = [n["name"] for n in bundle.graph()["nodes"] if n["op"] != "null"]
    assert [e[0] for e in entries] == ops  # one entry per node, in graph order
    written = {t: n for n in model.graph.node for t in n.output}
    assert all(written[e[2]].op_type == e[3] for e in entries)
    assert len(valid_node_map(model)) == len(entries)  # nothing rewrote the file yet


def test_the_import_maps_tensors_back_and_keeps_the_origin(tmp_path):
    bundle = _bundle()
    path = export_bundle(bundle, tmp_path / "m.onnx")
    imported = load_model(str(path))
    onnx_meta = imported.metadata["onnx"]
    assert onnx_meta["node_map"] and onnx_meta["export_node_map"]
    # the imported graph matches the original MXNet graph through the recorded origin alone
    original = MXNetSide("orig", "cpu", bundle)
    again = MXNetSide("imported", "cpu", imported)
    result = match(original.nodes(), again.nodes())
    assert len(result.pairs) == len(original.nodes())
    tensor_of = {(node, index): tensor for node, index, tensor in onnx_meta["export_node_map"]}
    carried_by = dict(onnx_meta["node_map"])
    for pair in result.pairs:
        assert carried_by[tensor_of[(pair.a.label, 0)]] == pair.b.id


def test_an_onnx_side_without_a_record_matches_only_by_its_own_tensors(tmp_path):
    import onnx

    model = to_onnx(_bundle())
    del model.metadata_props[:]
    side = OnnxSide("m.onnx", "onnxruntime", model, [])
    assert all(alias.startswith("onnx:") for n in side.nodes() for alias in n.aliases)
    onnx.checker.check_model(model)


def test_nodes_of_a_block_called_twice_are_left_out_not_tapped_by_their_shared_name():
    """Mask R-CNN calls one ResNet stage twice: two nodes named `..._fwd`, which
    `internals[name]` refuses ("multiple outputs with name"); verify's localize crashed on it."""
    import mxnet as mx
    import numpy as np

    from pipeline.model.bundle import ModelBundle, TensorSpec

    class Twice(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.shared = mx.gluon.nn.Dense(4, flatten=False)
                self.head = mx.gluon.nn.Dense(4, flatten=False)

        def hybrid_forward(self, F, x):
            return self.head(F.relu(self.shared(F.relu(self.shared(x)))))

    block = Twice()
    block.initialize(mx.init.Normal(0.5))
    block.hybridize()
    block(mx.nd.ones((1, 4)))
    sym = block(mx.sym.var("data"))
    names = [n["name"] for n in json.loads(sym.tojson())["nodes"]]
    assert len(names) != len(set(names))  # the graph really repeats a node name
    params = {k: v.data() for k, v in block.collect_params().items()}
    bundle = ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (1, 4))])
    side = MXNetSide("twice", "cpu", bundle)
    nodes = side.nodes()
    repeated = {n for n in names if names.count(n) > 1}
    assert nodes and not any(n.label in repeated for n in nodes)
    feed = {"data": np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)}
    outputs, taps = side.run(feed, [n.id for n in nodes])
    assert set(taps) == {n.id for n in nodes}
    assert np.allclose(outputs[0], block(mx.nd.array(feed["data"])).asnumpy(), atol=1e-6)
