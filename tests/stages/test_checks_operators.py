"""EI5xx: unsupported ops (plain targets), CPU fallback with boundary tensors (accelerators)."""
import mxnet as mx
import pytest

from checks_helpers import SMALL, conv_net, make_bundle, run, subject
from pipeline.targets.base import Target
from pipeline.checks import RULES
from pipeline.checks.operators import partition_counts


class TinyTarget(Target):
    """A plain target that runs only a few ops (not registered: passed to the subject directly)."""

    name = "tiny"

    @classmethod
    def supported_ops(cls):
        return frozenset({"Convolution", "Activation"})


def _fallback_net():
    """conv -> relu -> argmax(CPU) -> * 2 -> topk(CPU) -> fc  and a side branch."""
    x = mx.sym.var("data")
    x = mx.sym.Convolution(x, kernel=(1, 1), num_filter=4, name="conv0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    a = mx.sym.argmax(x, axis=1, keepdims=True, name="argmax0")
    b = mx.sym.broadcast_mul(x, a, name="mul0")
    c = mx.sym.sort(b, axis=1, name="sort0")
    return mx.sym.FullyConnected(c, num_hidden=3, name="fc0")


def test_all_supported_is_fine_everywhere():
    bundle = make_bundle(conv_net(), SMALL)
    for target in ("cpu", "eia1.medium"):
        assert run("operators", subject(bundle, target)) == []


def test_plain_target_lists_every_unsupported_op_with_count_and_nodes():
    bundle = make_bundle(conv_net(), SMALL)
    from pipeline.checks.subject import CheckSubject

    subj = CheckSubject(bundle=bundle, target=TinyTarget)
    found = RULES.get("operators")(subj)
    assert [(d.code, d.severity, d.node) for d in found] == [
        ("EI501", "error", "fc0"), ("EI501", "error", "pool0")]
    assert "op Pooling" in found[1].message and "1 node(s): pool0" in found[1].message


def test_accelerator_reports_fallback_subgraphs_and_boundaries():
    bundle = make_bundle(_fallback_net(), {"data": (1, 3, 4, 4)})
    found = RULES.get("operators")(subject(bundle, "eia1.medium"))
    assert [(d.code, d.severity, d.node) for d in found] == [("EI502", "warning", "argmax0")]
    msg = found[0].message
    assert "2 of 6 op node(s) fall back to the CPU" in msg
    assert "argmax x1 (argmax0)" in msg and "sort x1 (sort0)" in msg
    # accelerator: {conv0, relu0, mul0} and {fc0}; crossings: relu0->argmax0, argmax0->mul0,
    # mul0->sort0, sort0->fc0
    assert "2 accelerator subgraph(s) with 4 boundary tensor(s)" in msg


def test_partition_counts_counts_each_crossing_tensor_once():
    x = mx.sym.var("data")
    r = mx.sym.relu(x, name="r")
    s = mx.sym.sort(r, name="s")  # CPU
    out = mx.sym.Group([mx.sym.elemwise_add(s, s, name="a1"), mx.sym.elemwise_mul(s, r, name="m1")])
    bundle = make_bundle(out, {"data": (2, 3)})
    subj = subject(bundle)
    # r->s crosses; s->a1 and s->m1 are one tensor; r->m1 joins {r, m1}; {a1} is alone
    assert partition_counts(subj, {"s"}) == (2, 2)


def test_nothing_on_the_accelerator_warns_differently():
    x = mx.sym.sort(mx.sym.var("data"), name="sort_only")
    bundle = make_bundle(x, {"data": (2, 3)})
    assert run("operators", subject(bundle, "eia2.medium")) == [("EI503", "warning", "sort_only")]


@pytest.mark.parametrize("name", ["resnet18_v1"])
def test_zoo_models_run_fully_on_the_accelerator(name):
    from pipeline.model.resolve import load_model

    bundle = load_model(name)
    assert run("operators", subject(bundle, "eia1.large")) == []
