"""bf16 for cpu and onednn through MXNet's AMP: the bundle is the bf16 graph, exact, and served."""
import numpy as np
import pytest

import stages.deploy  # noqa: F401
import stages.sources.gluon  # noqa: F401
import stages.verify  # noqa: F401
from pipeline.model import bf16
from pipeline.precision import cpuflags
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.core.errors import StageError, TargetError
from pipeline.targets.cpu import CpuTarget
from pipeline.targets.onednn import OneDnnTarget
from stages.deploy import DeployParams
from pipeline.precision.calibration import CalibrationParams
from pipeline.precision.settings import QuantizeParams
from stages.sources.gluon import GluonParams
from stages.verify import VerifyParams

SMALL = [("data", (2, 3, 16, 16))]
SMALL_NET = GluonParams(factory="factories:small_convnet", kwargs={"classes": 10, "channels": 8})
LOOSE = VerifyParams(atol=0.05, rtol=0.2, runs=2, warmup=1)


@pytest.fixture(autouse=True)
def native_bf16():
    if not cpuflags.has_bf16():
        pytest.fail("this test machine is expected to have avx512_bf16 (see /proc/cpuinfo)")


@pytest.fixture
def small(make_runner):
    runner = make_runner(SMALL)
    bundle, _ = runner.run("gluon", None, SMALL_NET)
    return runner, bundle


def to_bf16(runner, bundle, target="onednn", **kw):
    params = QuantizeParams(precision="bf16", target=target, calibration=CalibrationParams(samples=4), holdout=8,
                            **kw)
    return runner.run("quantize", bundle, params)


def feed(seed=1):
    return {"data": np.random.default_rng(seed).standard_normal((2, 3, 16, 16)).astype(np.float32)}


def amp_reference(bundle, x):
    """MXNet's own AMP conversion bound directly, in memory: the independent implementation."""
    import mxnet as mx
    from mxnet.contrib import amp

    args, aux = bundle.mx_params()
    sym, args, aux = amp.convert_model(bundle.symbol(), args, aux, target_dtype="bfloat16",
                                       cast_optional_params=True)
    args = {**args, "data": mx.nd.array(x["data"])}
    exe = sym.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
    exe.forward(is_train=False)
    return [o.asnumpy() for o in exe.outputs]


@pytest.mark.parametrize("target", ["onednn", "cpu"])
def test_the_bundle_is_the_amp_graph_and_verifies(small, target):
    runner, fp32 = small
    out, result = to_bf16(runner, fp32, target)
    assert result.status == "passed", result.diagnostics
    rec = out.metadata["quantized"]
    assert rec["format"] == "mxnet-bf16" and rec["precision"] == "bf16" and rec["bf16_params"] > 0
    nodes = out.graph()["nodes"]
    casts = [n for n in nodes if n["op"] == "amp_cast"]
    assert {n["attrs"]["dtype"] for n in casts} == {"bfloat16", "float32"}  # in to bf16, out to fp32
    assert result.metrics["cosine"] >= 0.999
    deployed, _ = runner.run("deploy", out, DeployParams(target=target))
    _, verified = runner.run("verify", deployed, LOOSE)
    assert verified.status == "passed", verified.diagnostics


def test_bf16_params_are_stored_as_exact_float32(small):
    runner, fp32 = small
    out, _ = to_bf16(runner, fp32)
    declared = bf16.declared(out.symbol_json)
    assert declared and declared <= set(out.arg_params)
    for name in declared:
        value = out.arg_params[name]
        assert value.dtype == np.float32
        assert not (value.view(np.uint32) & 0xFFFF).any(), f"{name} has bits bf16 cannot hold"
    args, _ = out.mx_params()
    assert all(bf16.is_bf16(args[n]) for n in declared)
    assert not any(bf16.is_bf16(a) for n, a in args.items() if n not in declared)


@pytest.mark.parametrize("target_class", [OneDnnTarget, CpuTarget])
def test_served_outputs_match_mxnet_amp_bound_directly(small, target_class):
    runner, fp32 = small
    out, _ = to_bf16(runner, fp32)
    x = feed()
    with target_class() as session:
        session.deploy(out)
        got = session.infer(x)
    want = amp_reference(fp32, x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        # the same graph, weights and kernels: identical up to summation order (measured bit-identical)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * float(np.abs(w).max()))


def test_saved_bundle_reloads_to_the_same_outputs(small, tmp_path):
    runner, fp32 = small
    out, _ = to_bf16(runner, fp32)
    out.save(tmp_path / "bf16")
    reloaded = ModelBundle.load(tmp_path / "bf16")
    assert reloaded.symbol_json == out.symbol_json  # the amp_cast nodes survive serialization
    x = feed(2)
    with OneDnnTarget() as a, OneDnnTarget() as b:
        a.deploy(out)
        b.deploy(reloaded)
        for g, w in zip(a.infer(x), b.infer(x)):
            np.testing.assert_array_equal(g, w)


def test_the_onednn_target_fuses_the_bf16_graph(small):
    runner, fp32 = small
    out, _ = to_bf16(runner, fp32)
    fused = OneDnnTarget.fused(out)
    ops = {n["op"] for n in fused.graph()["nodes"]}
    assert "_sg_mkldnn_conv" in ops and "Convolution" not in ops
    assert bf16.declared(fused.symbol_json)  # the bf16 marks travel through fusion


def test_an_excluded_node_stays_fp32(small):
    runner, fp32 = small
    dense = next(n for n in fp32.graph()["nodes"] if n["op"] == "FullyConnected")
    out, result = to_bf16(runner, fp32, exclude_nodes=[dense["name"]])
    assert result.status == "passed", result.diagnostics
    graph = out.graph()
    weight = graph["nodes"][next(n for n in graph["nodes"] if n["name"] == dense["name"])["inputs"][1][0]]
    assert weight["name"] not in bf16.declared(out.symbol_json)
    assert any(n.endswith("_weight") and "conv" in n for n in bf16.declared(out.symbol_json))


def test_unknown_excluded_node_is_named(small):
    runner, fp32 = small
    conv = next(n["name"] for n in fp32.graph()["nodes"] if n["op"] == "Convolution")
    with pytest.raises(StageError) as err:
        to_bf16(runner, fp32, exclude_nodes=[conv + "x"])
    assert err.value.code == "QNT108" and f"did you mean '{conv}'" in err.value.message


def test_an_already_fused_graph_is_refused(small):
    runner, fp32 = small
    fused = OneDnnTarget.fused(fp32)
    with pytest.raises(StageError) as err:
        to_bf16(runner, fused)
    assert err.value.code == "QNT110" and "_sg_mkldnn_" in err.value.message and "onednn_fuse" in err.value.hint


def test_a_graph_amp_does_not_convert_is_refused(make_runner):
    import mxnet as mx

    runner = make_runner([("data", (2, 8))])
    sym = mx.sym.relu(mx.sym.var("data") * 2.0, name="relu0")
    bundle = ModelBundle.from_symbol(sym, {}, {}, [TensorSpec("data", (2, 8))])
    with pytest.raises(StageError) as err:
        to_bf16(runner, bundle)
    assert err.value.code == "QNT111"


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
def test_a_bf16_bundle_is_not_served_in_fp32_elsewhere(small, target):
    runner, fp32 = small
    out, _ = to_bf16(runner, fp32)
    with pytest.raises(TargetError) as err:
        runner.run("deploy", out, DeployParams(target=target))
    assert err.value.code == "QNT201"
