"""`import pipeline.eia`: the guide's rules with its messages, parity with mx.cpu(), reversibility.

The import patches MXNet, so it happens inside a module fixture that uninstalls afterwards;
other test modules see MXNet untouched.
"""
from __future__ import annotations

import sys
from collections import namedtuple

import numpy as np
import pytest

MAX_ONE = "Maximum one EIA device can be attached to an instance"
TRAINING = "for training cannot be set to true with EIA context"
Batch = namedtuple("Batch", ["data"])


@pytest.fixture(scope="module")
def mx():
    import mxnet

    originals = (mxnet.symbol.Symbol.bind, mxnet.symbol.Symbol.simple_bind, mxnet.gpu, mxnet.module.Module.__init__)
    import pipeline.eia as eia

    eia.install()   # a no-op if the import just did it
    yield mxnet
    eia.detach()
    eia.uninstall()
    assert (mxnet.symbol.Symbol.bind, mxnet.symbol.Symbol.simple_bind, mxnet.gpu,
            mxnet.module.Module.__init__) == originals


@pytest.fixture(scope="module")
def net(mx):
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), name="conv")
    x = mx.sym.BatchNorm(x, name="bn")
    x = mx.sym.FullyConnected(mx.sym.relu(x), num_hidden=5, name="fc")
    sym = mx.sym.softmax(x, name="prob")
    rng = np.random.RandomState(0)
    args, aux = {}, {}
    arg_shapes, _, aux_shapes = sym.infer_shape(data=(2, 3, 8, 8))
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        if name != "data":
            args[name] = mx.nd.array(rng.randn(*shape) * 0.3)
    for name, shape in zip(sym.list_auxiliary_states(), aux_shapes):
        aux[name] = mx.nd.array(rng.rand(*shape) + (0.5 if "var" in name else 0))
    return sym, args, aux


def images(mx, batch, seed=1):
    return mx.nd.array(np.random.RandomState(seed).randn(batch, 3, 8, 8))


def test_eia_context(mx):
    ctx = mx.eia()
    assert isinstance(ctx, mx.Context) and str(ctx) == "eia(0)" and ctx.device_typeid == 6
    assert mx.context.eia(0) == ctx


def test_symbol_bind_matches_cpu_and_outputs_live_on_cpu(mx, net):
    sym, args, aux = net
    x = images(mx, 2)
    ref = sym.bind(mx.cpu(), {**args, "data": x}, aux_states=aux, grad_req="null")
    ref.forward(data=x)
    exe = sym.bind(mx.eia(), {**args, "data": x}, aux_states=aux, grad_req="null")
    held = exe.outputs[0]
    exe.forward(data=x)
    assert exe.outputs[0].context == mx.cpu() and isinstance(exe.outputs[0], mx.nd.NDArray)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), ref.outputs[0].asnumpy(), rtol=1e-5, atol=1e-6)
    x2 = images(mx, 2, seed=7)
    ref.forward(data=x2)
    exe.forward(data=x2)
    np.testing.assert_allclose(held.asnumpy(), ref.outputs[0].asnumpy(), rtol=1e-5, atol=1e-6)  # same array, updated
    assert list(exe.output_dict) == ["prob_output"]


def test_module_api_matches_cpu_including_a_new_batch_size_and_new_params(mx, net):
    sym, args, aux = net
    mods = {}
    for name, ctx in (("cpu", mx.cpu()), ("eia", mx.eia())):
        mod = mx.mod.Module(symbol=sym, context=ctx, label_names=None)
        mod.bind(for_training=False, data_shapes=[("data", (2, 3, 8, 8))], label_shapes=mod._label_shapes)
        mod.set_params(args, aux, allow_missing=True)
        mods[name] = mod
    for batch in (2, 3, 2):
        x = images(mx, batch, seed=batch)
        for mod in mods.values():
            mod.forward(Batch([x]))
        np.testing.assert_allclose(mods["eia"].get_outputs()[0].asnumpy(), mods["cpu"].get_outputs()[0].asnumpy(),
                                   rtol=1e-5, atol=1e-6)
    # New params after forwards: compared with a fresh CPU module (MXNet's own oneDNN executor caches
    # weights at its first forward, so the old CPU module would not see them).
    changed = {k: v * 0.5 for k, v in args.items()}
    fresh = mx.mod.Module(symbol=sym, context=mx.cpu(), label_names=None)
    fresh.bind(for_training=False, data_shapes=[("data", (2, 3, 8, 8))])
    fresh.set_params(changed, aux, allow_missing=True)
    mods["eia"].set_params(changed, aux, allow_missing=True)
    for mod in (fresh, mods["eia"]):
        mod.forward(Batch([images(mx, 2)]))
    np.testing.assert_allclose(mods["eia"].get_outputs()[0].asnumpy(), fresh.get_outputs()[0].asnumpy(),
                               rtol=1e-5, atol=1e-6)


def test_module_default_for_training_is_refused_with_the_guides_message(mx, net):
    mod = mx.mod.Module(symbol=net[0], context=mx.eia(), label_names=None)
    with pytest.raises(ValueError) as info:
        mod.bind(data_shapes=[("data", (1, 3, 8, 8))])
    assert str(info.value) == TRAINING and info.value.code == "ACC116"


@pytest.mark.parametrize("kwargs", [
    {"context": [0, 1]},
    {"context": [0], "group2ctxs": {"dev1": 2, "dev2": 3}},
    {"context": [1]},
])
def test_several_devices_are_refused_with_the_guides_message(mx, net, kwargs):
    kwargs = {k: ([mx.eia(i) for i in v] if k == "context" else {g: mx.eia(i) for g, i in v.items()})
              for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=f"^{MAX_ONE}$"):
        mx.mod.Module(net[0], data_names=["data"], label_names=None, **kwargs)


def test_bind_rules(mx, net):
    sym, args, aux = net
    with pytest.raises(ValueError, match=MAX_ONE):
        sym.simple_bind(mx.eia(), grad_req="null", group2ctx={"dev1": mx.eia()}, data=(1, 3, 8, 8))
    with pytest.raises(ValueError, match=MAX_ONE):
        sym.simple_bind(mx.eia(1), grad_req="null", data=(1, 3, 8, 8))
    with pytest.raises(ValueError, match=MAX_ONE):
        sym.simple_bind([mx.eia(0), mx.eia(1)], grad_req="null", data=(1, 3, 8, 8))
    with pytest.raises(ValueError, match=TRAINING):
        sym.simple_bind(mx.eia(), data=(1, 3, 8, 8))                   # grad_req defaults to 'write'
    a = mx.sym.var("a")
    with pytest.raises(ValueError, match=TRAINING):
        (2 * a).bind(mx.eia(), {"a": mx.nd.ones(2)}, args_grad={"a": mx.nd.zeros(2)})
    exe = (2 * a).bind(mx.eia(), {"a": mx.nd.ones(2)})
    with pytest.raises(ValueError, match=TRAINING):
        exe.forward(is_train=True)
    with pytest.raises(ValueError, match="backward"):
        exe.backward()
    assert exe.forward()[0].asnumpy().tolist() == [2, 2]


def test_module_training_calls_are_refused(mx, net):
    mod = mx.mod.Module(symbol=net[0], context=mx.eia(), label_names=None)
    mod.bind(for_training=False, data_shapes=[("data", (1, 3, 8, 8))])
    for call in (lambda: mod.init_optimizer(), lambda: mod.backward(), lambda: mod.update()):
        with pytest.raises(ValueError, match="inference only"):
            call()


@pytest.mark.parametrize("make", [
    lambda mx: mx.nd.array([1, 2], ctx=mx.eia()),
    lambda mx: mx.nd.empty((2,), ctx=mx.eia()),
    lambda mx: mx.nd.zeros((2,), ctx=mx.eia()),
    lambda mx: mx.nd.ones((2,), mx.eia()),
    lambda mx: mx.nd.arange(3, ctx=mx.eia()),
    lambda mx: mx.nd.ones((2,)).copyto(mx.eia()),
    lambda mx: mx.nd.ones((2,)).as_in_context(mx.eia()),
])
def test_ndarray_allocation_on_eia_is_a_clear_mxnet_error(mx, make):
    with pytest.raises(mx.base.MXNetError) as info:
        make(mx)
    assert info.value.code == "ACC117" and "arrays live on mx.cpu()" in str(info.value)


def test_gpu_context_is_refused(mx, net):
    with pytest.raises(ValueError, match="GPU context is not supported"):
        mx.gpu()
    with pytest.raises(ValueError, match="GPU context is not supported"):
        net[0].simple_bind(mx.Context("gpu", 0), grad_req="null", data=(1, 3, 8, 8))
    with pytest.raises(ValueError, match="GPU context is not supported"):
        mx.mod.Module(net[0], context=mx.Context("gpu", 0))


def test_cpu_binds_still_go_to_mxnet(mx, net):
    exe = net[0].simple_bind(mx.cpu(), grad_req="null", data=(1, 3, 8, 8))
    assert type(exe).__module__.startswith("mxnet")


def test_a_model_too_large_for_the_accelerator_is_refused_at_bind(mx, net, monkeypatch):
    import pipeline.eia as eia
    from pipeline.accelerator.errors import ModelTooLarge
    from pipeline.accelerator.server import AcceleratorServer

    with AcceleratorServer("eia1.medium", memory_bytes=256) as small:
        eia.detach()
        monkeypatch.setenv("MXDEPLOY_ACCELERATOR", f"{small.address[0]}:{small.address[1]}")
        try:
            with pytest.raises(ModelTooLarge, match="smallest|eia1.medium"):
                net[0].simple_bind(mx.eia(), grad_req="null", data=(1, 3, 8, 8))
        finally:
            eia.detach()


def test_uninstall_restores_mxnet_and_install_reapplies(mx):
    import pipeline.eia as eia

    eia.detach()
    eia.uninstall()
    try:
        assert not hasattr(mx, "eia") and "eia" not in mx.Context.devstr2type
        assert mx.nd.zeros((1,), ctx=mx.cpu()).asnumpy().tolist() == [0]
    finally:
        eia.install()
    assert mx.eia().device_typeid == 6 and eia.installed()
    assert "pipeline.eia" in sys.modules
