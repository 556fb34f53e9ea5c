"""EI6xx: the model against the target's memory, with the smallest size that fits.

The graph is relu -> sigmoid on a (B, 1024, 1024) float32 input: MXNet's planner gives the
relu output its own buffer (the input is external) and runs sigmoid in place, so the model
needs exactly 2 x 4 MiB x B (input + one activation buffer) and no params.
"""
import mxnet as mx

from checks_helpers import conv_net, make_bundle, run, subject
from pipeline.checks import RULES

MiB = 1 << 20


def _bundle(batch):
    net = mx.sym.sigmoid(mx.sym.relu(mx.sym.var("data"), name="relu0"), name="sig0")
    return make_bundle(net, {"data": (batch, 1024, 1024)})


def test_the_fixture_needs_what_the_docstring_says():
    from pipeline.measure import memory

    est = memory.estimate(_bundle(64))
    assert (est.params_bytes, est.input_bytes, est.activation_bytes) == (0, 256 * MiB, 256 * MiB)


def test_fits_with_headroom():
    assert run("memory", subject(_bundle(96), "eia1.medium")) == []  # 768 MiB of 1024


def test_little_headroom_warns():
    assert run("memory", subject(_bundle(112), "eia1.medium")) == [("EI602", "warning", "")]  # 896 MiB


def test_too_big_names_the_smallest_size_that_fits():
    (diag,) = RULES.get("memory")(subject(_bundle(160), "eia1.medium"))  # 1280 MiB
    assert (diag.code, diag.severity) == ("EI601", "error")
    assert "the smallest size that fits is eia2.medium" in diag.message
    assert diag.hint == "deploy to eia2.medium"


def test_too_big_for_every_size_says_so():
    (diag,) = RULES.get("memory")(subject(_bundle(1100), "eia2.xlarge"))  # 8800 MiB
    assert diag.code == "EI601" and "no accelerator size holds it" in diag.message


def test_targets_without_a_memory_limit_are_not_checked():
    assert run("memory", subject(_bundle(1100), "cpu")) == []


def test_each_declared_shape_is_checked():
    found = run("memory", subject(_bundle(64), "eia1.medium", extra=[{"data": (160, 1024, 1024)}]))
    assert found == [("EI601", "error", "")]


def test_shapes_the_graph_rejects_are_reported_not_raised(capsys):
    bundle = make_bundle(conv_net(), {"data": (1, 3, 16, 16)})
    found = RULES.get("memory")(subject(bundle, "eia1.medium", extra=[{"data": (1, 3)}]))
    assert [(d.code, d.severity) for d in found] == [("EI603", "error")]
    assert "data=1x3" in found[0].message and "Input data should be 4D" in found[0].message
    assert capsys.readouterr().out == ""  # MXNet's own print of the arguments is kept off stdout
