"""gluon source: zoo and factory blocks exported to a bundle, with the imperative reference."""

import mxnet as mx
import numpy as np
import pytest

import stages.sources.gluon  # noqa: F401  (registers the stage and the reference)
from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import SourceError
from pipeline.model.references import REFERENCES
from stages.sources.gluon import GluonParams, GluonSource


def test_zoo_model_exports_with_reference_weights(make_runner):
    runner = make_runner([("data", (1, 3, 64, 64))])
    bundle, result = runner.run("gluon", None, GluonParams(model="resnet18_v1", seed=3))
    assert result.status == "passed" and result.artifacts == {"reference_params": "reference.params"}
    stage_dir = runner.last_ctx.stage_dir
    assert (stage_dir / "reference.params").is_file()
    assert bundle.metadata["mxnet_version"] == 10901
    assert bundle.metadata["source"]["model"] == "resnet18_v1"
    ref = bundle.metadata["reference"]
    assert ref == {"kind": "gluon", "model": "resnet18_v1", "kwargs": {}, "inputs": ["data"],
                   "params": "pipe/00-gluon/reference.params"}
    assert [s.name for s in bundle.inputs] == ["data"] and bundle.outputs
    saved = ModelBundle.load(stage_dir)  # the runner's save round-trips
    assert saved.metadata == bundle.metadata
    # the reference rebuilds the block from the saved weights and agrees with the exported graph
    feed = {"data": np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)}
    expected = REFERENCES.get("gluon")(ref, runner.run_dir).run(feed)[0]
    sym = bundle.symbol()
    args, auxs = bundle.mx_params()
    args["data"] = mx.nd.array(feed["data"])
    exe = sym.bind(mx.cpu(), args=args, aux_states=auxs, grad_req="null")
    exe.forward(is_train=False)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), expected, rtol=1e-3, atol=1e-5)


def test_seed_decides_the_random_weights(make_runner):
    a, _ = make_runner([("data", (1, 3, 32, 32))]).run("gluon", None, GluonParams(model="mobilenet0.25", seed=1))
    b, _ = make_runner([("data", (1, 3, 32, 32))]).run("gluon", None, GluonParams(model="mobilenet0.25", seed=1))
    c, _ = make_runner([("data", (1, 3, 32, 32))]).run("gluon", None, GluonParams(model="mobilenet0.25", seed=2))
    assert sorted(a.arg_params) == sorted(c.arg_params)  # names do not depend on blocks built before
    name = next(n for n in sorted(a.arg_params) if n.endswith("conv0_weight"))
    np.testing.assert_array_equal(a.arg_params[name], b.arg_params[name])
    assert not np.array_equal(a.arg_params[name], c.arg_params[name])


def test_factory_with_kwargs_and_renamed_input(make_runner):
    runner = make_runner([("image", (2, 3, 16, 16))])
    bundle, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet",
                                                      kwargs={"classes": 5, "channels": 4}))
    graph = bundle.graph()
    assert "image" in [n["name"] for n in graph["nodes"] if n["op"] == "null"]
    assert bundle.metadata["reference"]["factory"] == "factories:small_convnet"
    assert bundle.metadata["reference"]["kwargs"] == {"classes": 5, "channels": 4}
    assert bundle.history[-1] == {"stage": "gluon", "block": "SmallConvNet", "factory": "factories:small_convnet",
                                  "config_dir": str(runner.config_dir.resolve())}
    out = REFERENCES.get("gluon")(bundle.metadata["reference"], runner.run_dir).run(
        {"image": np.ones((2, 3, 16, 16), np.float32)})
    assert [o.shape for o in out] == [(2, 5)]


def test_params_file_is_loaded_into_the_block(make_runner, tmp_path):
    from pipeline.model.resolve import import_factory

    runner = make_runner([("data", (1, 3, 8, 8))])
    block = import_factory("factories:small_convnet", runner.config_dir)(classes=3)
    block.initialize(mx.init.Uniform(0.5))
    x = mx.nd.array(np.random.default_rng(1).standard_normal((1, 3, 8, 8)))
    expected = block(x).asnumpy()
    block.save_parameters(str(tmp_path / "net.params"))
    bundle, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet", kwargs={"classes": 3},
                                                      params=str(tmp_path / "net.params")))
    assert bundle.metadata["source"]["params"] == str((tmp_path / "net.params").resolve())
    got = REFERENCES.get("gluon")(bundle.metadata["reference"], runner.run_dir).run({"data": x.asnumpy()})
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)


def test_plain_block_is_refused_with_the_fix(make_runner):
    runner = make_runner([("data", (1, 64))])
    with pytest.raises(SourceError) as info:
        runner.run("gluon", None, GluonParams(factory="factories:plain_mlp"))
    assert info.value.code == "SRC101"
    assert "PlainMLP is a plain Gluon Block" in info.value.message
    assert "derive PlainMLP from HybridBlock and implement hybrid_forward" in info.value.hint


def test_untraceable_block_names_the_block_and_the_error(make_runner):
    runner = make_runner([("data", (1, 8))])
    with pytest.raises(SourceError) as info:
        runner.run("gluon", None, GluonParams(factory="factories:untraceable_net"))
    assert info.value.code == "SRC102"
    assert info.value.message == ("UntraceableNet cannot be hybridized and exported: NotImplementedForSymbol: "
                                  "Function asnumpy is not implemented for Symbol and only available in NDArray.")


@pytest.mark.parametrize("factory, fragment", [
    ("nosuchmodule:make", "cannot import factory module 'nosuchmodule'"),
    ("factories:nothing_here", "module 'factories' has no callable 'nothing_here'"),
])
def test_factory_import_errors(make_runner, factory, fragment):
    with pytest.raises(SourceError) as info:
        make_runner([("data", (1, 8))]).run("gluon", None, GluonParams(factory=factory))
    assert info.value.code == "SRC103" and fragment in info.value.message


def test_factory_needs_declared_inputs(make_runner):
    with pytest.raises(SourceError) as info:
        make_runner([]).run("gluon", None, GluonParams(factory="factories:small_convnet"))
    assert info.value.code == "SRC104"


def test_zoo_model_without_inputs_uses_the_zoo_default(make_runner):
    bundle, _ = make_runner([]).run("gluon", None, GluonParams(model="squeezenet1.1"))
    assert [(s.name, s.shape) for s in bundle.inputs] == [("data", (1, 3, 224, 224))]


@pytest.mark.parametrize("params, message", [
    (GluonParams(), "give exactly one of 'model'"),
    (GluonParams(model="resnet18_v1", factory="a:b"), "give exactly one of 'model'"),
    (GluonParams(factory="not a spec"), "expected pkg.module:callable"),
    (GluonParams(model="resnet18"), "did you mean"),
])
def test_check_params(params, message):
    issues = GluonSource.check_params(params)
    assert len(issues) == 1 and message in issues[0].message


def test_check_params_accepts_either_form():
    assert GluonSource.check_params(GluonParams(model="resnet18_v1")) == []
    assert GluonSource.check_params(GluonParams(factory="pkg.mod:make_net")) == []


def test_gluoncv_model_records_zoo_family_and_calibrated_init(make_runner):
    bundle, result = make_runner([("data", (1, 3, 32, 32))]).run(
        "gluon", None, GluonParams(model="cifar_resnet20_v1", seed=2))
    source = bundle.metadata["source"]
    assert (source["zoo"], source["family"]) == ("gluoncv", "classification")
    assert source["init"]["init"] == "calibrated-v1" and source["init"]["seed"] == 2
    assert source["init"]["batchnorms_calibrated"] > 0


def test_given_params_are_never_recalibrated(make_runner, tmp_path):
    """Weights from `params:` are the user's: no init record, and the bundle holds exactly them."""
    from pipeline.model import zoos

    zoo = zoos.find_zoo("cifar_resnet20_v1")
    block = zoo.build("cifar_resnet20_v1", {}, 0)
    block(mx.nd.zeros((1, 3, 32, 32)))
    for p in block.collect_params().values():
        if p.name.endswith("running_var"):
            p.set_data(mx.nd.full(p.shape, 7.0))
    path = tmp_path / "net.params"
    block.save_parameters(str(path))
    runner = make_runner([("data", (1, 3, 32, 32))])
    bundle, _ = runner.run("gluon", None, GluonParams(model="cifar_resnet20_v1", params=str(path)))
    assert "init" not in bundle.metadata["source"]
    variances = [v for k, v in bundle.aux_params.items() if k.endswith("running_var")]
    assert variances and all((v == 7.0).all() for v in variances)
