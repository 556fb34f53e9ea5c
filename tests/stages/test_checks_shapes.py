"""EI7xx: several input shapes or dynamic dims on an accelerator: one model copy per shape."""
import mxnet as mx

from checks_helpers import make_bundle, run, subject
from pipeline.model.bundle import TensorSpec
from pipeline.checks import RULES


def _bundle(batch=64):
    net = mx.sym.sigmoid(mx.sym.relu(mx.sym.var("data"), name="relu0"), name="sig0")
    return make_bundle(net, {"data": (batch, 1024, 1024)})  # 2 x 4 MiB per sample


def test_one_static_shape_is_fine():
    assert run("shapes", subject(_bundle(), "eia1.medium")) == []
    assert run("shapes", subject(_bundle(), "eia1.medium", extra=[{"data": (64, 1024, 1024)}])) == []  # same


def test_several_shapes_warn_with_the_memory_of_all_copies():
    found = RULES.get("shapes")(subject(_bundle(), "eia1.medium", extra=[{"data": (32, 1024, 1024)}]))
    assert [(d.code, d.severity, d.node) for d in found] == [("EI701", "warning", "data")]
    assert "2 input shapes" in found[0].message and "768.0 MiB" in found[0].message  # 512 + 256


def test_copies_that_overflow_together_are_an_error():
    found = RULES.get("shapes")(subject(_bundle(), "eia1.medium", extra=[{"data": (96, 1024, 1024)}]))
    assert [(d.code, d.severity, d.node) for d in found] == [("EI701", "warning", "data"), ("EI703", "error", "data")]
    assert "eia2.medium" in found[1].message  # 1280 MiB


def test_plain_targets_share_params_between_shapes():
    assert run("shapes", subject(_bundle(), "cpu", extra=[{"data": (96, 1024, 1024)}])) == []


def test_dynamic_dims_warn():
    bundle = _bundle()
    bundle.inputs = [TensorSpec("data", (0, 1024, 1024))]
    assert run("shapes", subject(bundle, "eia1.large")) == [("EI702", "warning", "data")]
    assert run("memory", subject(bundle, "eia1.large")) == []  # nothing to estimate at a dynamic shape


def test_declared_dynamic_axes_are_refused_on_accelerators_only():
    bundle = _bundle(batch=2)
    bundle.inputs = [TensorSpec("data", (2, 1024, 1024), dynamic=(0,))]
    assert run("shapes", subject(bundle, "eia1.large")) == [("EI704", "error", "data")]
    assert run("shapes", subject(bundle, "cpu")) == []
