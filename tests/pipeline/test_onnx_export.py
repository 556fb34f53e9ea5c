"""pipeline/onnx/export.py: the bundle -> ONNX exporter (MXNet's converter, opset pinned).

Parity is checked against MXNet's own executor (pipeline/targets/cpu.py) through ONNX Runtime.
The zoo sweep covers every Gluon vision zoo model; the default run exports a sample of four,
`--run-slow` (tests/conftest.py) runs all of them.
"""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.onnx.export import DEFAULT_OPSET, ExportError, export_bundle, exportable_ops, initializers_as_inputs, to_onnx
from pipeline.model.resolve import export_block, zoo_block, zoo_names
from pipeline.targets.cpu import CpuTarget

# The smallest square input each zoo model accepts (found by trying 32, 64, ... 299): Gluon's
# Dense layers infer their input size, so only fixed pooling windows need the full size.
FULL_SIZE = {"inceptionv3": 299, "densenet121": 224, "densenet161": 224, "densenet169": 224,
             "densenet201": 224, "squeezenet1.0": 224, "squeezenet1.1": 224, "alexnet": 64}
SAMPLE = ["resnet18_v1", "mobilenetv2_1.0", "squeezenet1.1", "densenet121"]


def _side(name: str) -> int:
    return FULL_SIZE.get(name, 32)


def _ort(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _mxnet(bundle: ModelBundle, feed: dict) -> list[np.ndarray]:
    with CpuTarget() as target:
        return target.deploy(bundle).infer(feed)


def _assert_clean_export(bundle: ModelBundle, path: Path) -> onnx.ModelProto:
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    initializers = {t.name for t in model.graph.initializer}
    assert [vi.name for vi in model.graph.input] == [s.name for s in bundle.inputs]
    assert not initializers & {vi.name for vi in model.graph.input}
    assert [(o.domain, o.version) for o in model.opset_import] == [("", DEFAULT_OPSET)]
    return model


def _zoo_export(name: str, tmp_path: Path) -> None:
    side = _side(name)
    bundle = export_block(zoo_block(name), [TensorSpec("data", (1, 3, side, side))], tmp_path)
    model = _assert_clean_export(bundle, export_bundle(bundle, tmp_path / f"{name}.onnx"))
    x = np.random.RandomState(0).rand(1, 3, side, side).astype(np.float32)
    (got,) = _ort(model).run(None, {"data": x})
    (_, out_shapes, _) = bundle.symbol().infer_shape(data=(1, 3, side, side))
    assert got.shape == tuple(out_shapes[0])


@pytest.mark.parametrize("name", SAMPLE)
def test_zoo_sample_exports_clean(name, tmp_path):
    _zoo_export(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in zoo_names() if n not in SAMPLE])
def test_zoo_sweep_exports_clean(name, tmp_path):
    _zoo_export(name, tmp_path)


def test_sweep_covers_the_whole_zoo():
    assert len(zoo_names()) >= 30
    assert set(FULL_SIZE) | set(SAMPLE) <= set(zoo_names())


# -- the opset pin ------------------------------------------------------------------------------
def _one_op(op: str):
    x = mx.sym.var("data")
    ops = {
        "mean": lambda: mx.sym.mean(x, axis=1, name="op"),
        "max": lambda: mx.sym.max(x, axis=1, name="op"),
        "min": lambda: mx.sym.min(x, axis=1, name="op"),
        "prod": lambda: mx.sym.prod(x, axis=1, name="op"),
        "norm": lambda: mx.sym.norm(x, axis=1, name="op"),
        "LayerNorm": lambda: mx.sym.LayerNorm(x, mx.sym.var("g"), mx.sym.var("b"), axis=-1, name="op"),
        "broadcast_axis": lambda: mx.sym.broadcast_axis(mx.sym.slice_axis(x, axis=1, begin=0, end=1),
                                                        axis=1, size=3, name="op"),
        "split": lambda: mx.sym.split(x, num_outputs=2, axis=2, name="op")[0],
    }
    sym = ops[op]()
    rng = np.random.RandomState(1)
    params = {k: mx.nd.array(rng.rand(4).astype(np.float32) + 0.5) for k in ("g", "b") if k in sym.list_arguments()}
    return ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (2, 3, 4))])


PINNED_OPS = ["mean", "max", "min", "prod", "norm", "LayerNorm", "broadcast_axis", "split"]


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("op", PINNED_OPS)
def test_pinned_opset_exports_ops_that_break_unpinned(op, opset):
    bundle = _one_op(op)
    model = to_onnx(bundle, opset=opset)
    assert model.opset_import[0].version == opset
    x = np.random.RandomState(0).rand(2, 3, 4).astype(np.float32)
    (got,) = _ort(model).run(None, {"data": x})
    np.testing.assert_allclose(got, _mxnet(bundle, {"data": x})[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("op", ["mean", "max", "min", "prod", "norm", "LayerNorm", "split"])
def test_unpinned_mxnet_export_breaks_these_ops(op, tmp_path):
    """Why the pin exists: MXNet's export_model declares onnx's newest opset (23 with onnx 1.18)."""
    import mxnet.onnx  # noqa: F401

    bundle = _one_op(op)
    arg, aux = bundle.mx_params()
    try:
        path = mx.onnx.export_model(bundle.symbol(), {**arg, **aux}, [(2, 3, 4)], np.float32,
                                    str(tmp_path / "m.onnx"))
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        assert "Reduce" in str(exc) or "Split" in str(exc)
    else:
        pytest.fail(f"MXNet's unpinned export of {op} now passes onnx.checker: the pin may be obsolete")


@pytest.mark.parametrize("opset", [11, 18, 23])
def test_opsets_the_exporter_cannot_emit_are_refused(opset):
    with pytest.raises(ExportError) as err:
        to_onnx(_one_op("mean"), opset=opset)
    assert err.value.code == "EXP106"


# -- refusals -----------------------------------------------------------------------------------
def _conv_fc():
    x = mx.sym.var("data")
    y = mx.sym.Convolution(x, num_filter=4, kernel=(3, 3), name="conv")
    y = mx.sym.Activation(y, act_type="relu", name="relu")
    y = mx.sym.FullyConnected(y, num_hidden=3, name="fc")
    rng = np.random.RandomState(0)
    params = {"conv_weight": rng.rand(4, 3, 3, 3), "conv_bias": rng.rand(4),
              "fc_weight": rng.rand(3, 144), "fc_bias": rng.rand(3)}
    return y, {k: mx.nd.array(v.astype(np.float32)) for k, v in params.items()}


def test_onednn_fused_graph_is_refused(tmp_path):
    sym, params = _conv_fc()
    # MXNet 1.9.1 names its oneDNN subgraph backend 'MKLDNN' ('ONEDNN' does not exist there).
    fused = sym.optimize_for("MKLDNN", dict(params), {}, ctx=mx.cpu(), shape_dict={"data": (1, 3, 8, 8)})
    assert "_sg_mkldnn_conv" in fused.tojson()
    bundle = ModelBundle.from_symbol(fused, params, {}, [TensorSpec("data", (1, 3, 8, 8))])
    with pytest.raises(ExportError) as err:
        export_bundle(bundle, tmp_path / "fused.onnx")
    assert err.value.code == "EXP101"
    assert "onednn_fuse" in err.value.hint
    assert "_sg_mkldnn_conv" in err.value.message
    assert not list(tmp_path.iterdir())  # nothing written, not even a temp file


def test_untranslatable_ops_are_listed_in_one_error(tmp_path):
    x = mx.sym.var("data")
    y = mx.sym.erf(x, name="erf_a") + mx.sym.erf(x, name="erf_b")
    y = mx.sym.gammaln(y, name="lgamma") * mx.sym.relu(x, name="fine")
    bundle = ModelBundle.from_symbol(y, {}, {}, [TensorSpec("data", (2, 3))])
    with pytest.raises(ExportError) as err:
        export_bundle(bundle, tmp_path / "m.onnx")
    assert err.value.code == "EXP102"
    msg = err.value.message
    assert "2 op type(s)" in msg
    assert "erf (nodes: erf_a, erf_b)" in msg and "gammaln (nodes: lgamma)" in msg
    assert "relu" not in msg.replace("fine", "")
    assert not (tmp_path / "m.onnx").exists()


def test_attribute_the_exporter_cannot_translate_is_a_coded_error():
    x = mx.sym.var("data")
    y = mx.sym.Convolution(x, num_filter=4, kernel=(3, 3), layout="NHWC", no_bias=True, name="conv")
    bundle = ModelBundle.from_symbol(y, {"conv_weight": mx.nd.ones((4, 3, 3, 3))}, {},
                                     [TensorSpec("data", (1, 8, 8, 3))])
    with pytest.raises(ExportError) as err:
        to_onnx(bundle)
    assert err.value.code == "EXP103" and "layout" in err.value.message


def test_undeclared_data_input_is_a_coded_error():
    y = mx.sym.var("data") + mx.sym.var("extra")
    bundle = ModelBundle.from_symbol(y, {}, {}, [TensorSpec("data", (2, 3))])
    with pytest.raises(ExportError) as err:
        to_onnx(bundle)
    assert err.value.code == "EXP107" and err.value.where == "extra"


def test_exportable_ops_is_mxnets_own_support_list():
    import mxnet.onnx  # noqa: F401

    from pipeline.onnx.export_fold import FOLDED_ONLY_OPS
    from pipeline.onnx.export_ops import op_names

    ops = exportable_ops()  # plus our own converters and the ops that export only as folded constants
    assert ops == (frozenset(mx.onnx.get_operator_support(DEFAULT_OPSET)) | op_names() | FOLDED_ONLY_OPS) - {"null"}
    assert {"Convolution", "BatchNorm", "FullyConnected", "SoftmaxOutput", "LayerNorm"} <= ops
    assert "null" not in ops and "erf" not in ops


# -- labels, outputs, files ---------------------------------------------------------------------
def _softmax_mlp(label: str | None):
    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(data, num_hidden=8, name="fc1")
    net = mx.sym.Activation(net, act_type="tanh", name="act")
    net = mx.sym.FullyConnected(net, num_hidden=5, name="fc2")
    kwargs = {"label": mx.sym.var(label)} if label else {}
    net = mx.sym.SoftmaxOutput(net, name="softmax", **kwargs)
    rng = np.random.RandomState(3)
    params = {"fc1_weight": rng.randn(8, 6), "fc1_bias": rng.randn(8),
              "fc2_weight": rng.randn(5, 8), "fc2_bias": rng.randn(5)}
    params = {k: mx.nd.array(v.astype(np.float32)) for k, v in params.items()}
    return ModelBundle.from_symbol(net, params, {}, [TensorSpec("data", (3, 6))])


@pytest.mark.parametrize("label", [None, "lbl"])  # softmax_label (the name MXNet skips) and another
def test_training_head_label_is_stripped(label, tmp_path):
    bundle = _softmax_mlp(label)
    assert (label or "softmax_label") in bundle.symbol().list_arguments()
    model = _assert_clean_export(bundle, export_bundle(bundle, tmp_path / "mlp.onnx"))
    assert "Softmax" in {n.op_type for n in model.graph.node}
    x = np.random.RandomState(0).randn(3, 6).astype(np.float32)
    (got,) = _ort(model).run(None, {"data": x})
    np.testing.assert_allclose(got, _mxnet(bundle, {"data": x})[0], atol=1e-6, rtol=1e-5)


def test_label_used_beyond_the_loss_head_is_refused():
    data, lbl = mx.sym.var("data"), mx.sym.var("lbl")
    head = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=4, name="fc"), label=lbl, name="sm")
    sym = mx.sym.Group([head, lbl * 2])
    params = {"fc_weight": mx.nd.ones((4, 6)), "fc_bias": mx.nd.zeros(4)}
    bundle = ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (3, 6))])
    with pytest.raises(ExportError) as err:
        to_onnx(bundle)
    assert err.value.code == "EXP105" and err.value.where == "lbl"


def test_outputs_keep_mxnet_order():
    data = mx.sym.var("data")
    first = mx.sym.FullyConnected(data, num_hidden=4, name="first")
    second = mx.sym.FullyConnected(first, num_hidden=2, name="second")
    sym = mx.sym.Group([second, first])  # the exporter emits them in node order: first, second
    rng = np.random.RandomState(0)
    params = {k: mx.nd.array(rng.randn(*s).astype(np.float32)) for k, s in
              {"first_weight": (4, 6), "first_bias": (4,), "second_weight": (2, 4), "second_bias": (2,)}.items()}
    bundle = ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (3, 6))])
    model = to_onnx(bundle)
    assert [o.name for o in model.graph.output] == ["second", "first"]
    x = np.random.RandomState(1).randn(3, 6).astype(np.float32)
    for got, ref in zip(_ort(model).run(None, {"data": x}), _mxnet(bundle, {"data": x})):
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_every_initializer_is_used_and_write_is_atomic(tmp_path):
    bundle = _one_op("split")  # MXNet's Split translation leaves its axis constant unused
    dest = tmp_path / "out" / "split.onnx"
    export_bundle(bundle, dest)
    model = onnx.load(str(dest))
    consumed = {i for n in model.graph.node for i in n.input}
    assert all(t.name in consumed for t in model.graph.initializer)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["split.onnx"]


def test_initializers_as_inputs_rebuilds_the_raw_form_for_the_bench():
    sym, params = _conv_fc()
    bundle = ModelBundle.from_symbol(sym, params, {}, [TensorSpec("data", (1, 3, 8, 8))])
    clean = to_onnx(bundle)
    raw = initializers_as_inputs(clean, params)
    assert {vi.name for vi in raw.graph.input} == {"data"} | set(params)
    assert [vi.name for vi in clean.graph.input] == ["data"]  # the original is untouched
    x = np.random.RandomState(0).rand(1, 3, 8, 8).astype(np.float32)
    np.testing.assert_allclose(_ort(raw).run(None, {"data": x})[0], _ort(clean).run(None, {"data": x})[0],
                               rtol=1e-6)


# -- converter quirks (pipeline/onnx/export_quirks.py) ----------------------------------------------
def test_symbol_api_defaults_are_spelled_out_for_the_converter():
    """FullyConnected's flatten and BatchNorm's fix_gamma default to true; the converter read
    them as false (Flatten(axis=-1) + Gemm, refused by ONNX Runtime; the stored gamma used)."""
    x = mx.sym.var("data")
    y = mx.sym.Convolution(x, num_filter=4, kernel=(3, 3), name="conv")
    y = mx.sym.BatchNorm(y, name="bn")  # fix_gamma defaults to True: gamma is ignored
    y = mx.sym.FullyConnected(y, num_hidden=3, name="fc")  # flatten defaults to True
    assert "flatten" not in y.tojson() and "fix_gamma" not in y.tojson()
    rng = np.random.RandomState(0)
    args = {"conv_weight": rng.randn(4, 3, 3, 3), "conv_bias": rng.randn(4), "bn_gamma": rng.rand(4) + 2.0,
            "bn_beta": rng.randn(4), "fc_weight": rng.randn(3, 144), "fc_bias": rng.randn(3)}
    aux = {"bn_moving_mean": rng.randn(4), "bn_moving_var": rng.rand(4) + 0.5}
    as_nd = lambda d: {k: mx.nd.array(v.astype(np.float32)) for k, v in d.items()}  # noqa: E731
    bundle = ModelBundle.from_symbol(y, as_nd(args), as_nd(aux), [TensorSpec("data", (2, 3, 8, 8))])
    x_in = rng.rand(2, 3, 8, 8).astype(np.float32)
    (got,) = _ort(to_onnx(bundle)).run(None, {"data": x_in})
    np.testing.assert_allclose(got, _mxnet(bundle, {"data": x_in})[0], atol=1e-4, rtol=1e-4)
    assert bundle.arg_params["bn_gamma"].min() > 2.0  # the bundle itself is not changed


def test_newer_onednn_op_prefix_is_refused_too():
    """MXNet 2.x renamed the fused ops `_sg_onednn_*`; such a graph is refused before parsing."""
    import json

    graph = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                       {"op": "_sg_onednn_conv", "name": "conv0", "inputs": [[0, 0, 0]]}],
             "arg_nodes": [0], "node_row_ptr": [0, 1, 2], "heads": [[1, 0, 0]]}
    bundle = ModelBundle(json.dumps(graph), {}, {}, [TensorSpec("data", (1, 3, 8, 8))])
    with pytest.raises(ExportError) as err:
        to_onnx(bundle)
    assert err.value.code == "EXP101" and err.value.where == "conv0"
