"""The optimize stage: passes in order, each guarded; a diverging pass is refused by name."""
import numpy as np
import pytest

from pipeline.graph import random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.core.paramspec import build_params
from pipeline.core.registry import Registry
from pipeline.core.stage import STAGES, RunContext
from pipeline.graph.passes import PASSES, Pass
from stages.optimize import DEFAULT_PASSES, OptimizeParams, optimize


@pytest.fixture(scope="module")
def bundle():
    return zoo_bundle("resnet18_v1", (1, 3, 64, 64))


def test_default_passes_keep_outputs_and_report_metrics(bundle, tmp_path):
    ctx = RunContext("p", tmp_path, tmp_path, tmp_path, bundle.inputs)
    new, result = STAGES.get("optimize")().run(bundle, OptimizeParams(), ctx)
    assert result.status == "passed", result.diagnostics
    rows = result.metrics["passes"]
    assert [r["name"] for r in rows] == list(DEFAULT_PASSES)
    for row in rows:
        assert set(row) >= {"nodes_before", "nodes_after", "params_bytes_before", "params_bytes_after",
                            "seconds", "max_abs_err"}
        assert row["max_abs_err"] <= 1e-4
    fold = next(r for r in rows if r["name"] == "fold_batchnorm")
    assert fold["nodes_after"] < fold["nodes_before"]
    assert result.metrics["nodes_after"] == new.node_count() < bundle.node_count()
    assert [h["pass"] for h in new.history[-len(DEFAULT_PASSES):]] == list(DEFAULT_PASSES)
    feed = random_feed(bundle.inputs, seed=9)
    assert compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-4, rtol=1e-3).passed


def _broken(graph, params, inputs):
    """Doubles the first conv weight: a pass that silently changes results."""
    name = next(n for n in sorted(params.arg) if n.endswith("conv0_weight"))
    return graph.copy(), params.replace(arg={name: params.arg[name] * 2})


def test_guard_refuses_a_diverging_pass(bundle):
    passes = Registry("pass")
    passes.register("eliminate", PASSES.get("eliminate"))
    passes.register("double_weights", Pass("double_weights", _broken, "broken on purpose"))
    passes.register("cse", PASSES.get("cse"))
    params = OptimizeParams(passes=("eliminate", "double_weights", "cse"))
    new, result = optimize(bundle, params, passes=passes)
    assert result.status == "failed"
    (diag,) = result.diagnostics
    err = result.metrics["passes"][1]["max_abs_err"]
    assert err > 1e-4
    assert diag.to_dict() == {
        "code": "OPT101", "severity": "error", "node": "double_weights",
        "message": f"pass 'double_weights' changed the outputs beyond tolerance (max abs error {err:.3g}; "
                   f"atol=0.0001, rtol=0.001); pass refused",
        "hint": "remove 'double_weights' from optimize.passes, or loosen atol/rtol if the difference is expected"}
    assert [r["name"] for r in result.metrics["passes"]] == ["eliminate", "double_weights"]
    assert result.metrics["passes"][1]["refused"] is True
    # the returned bundle is the last good one: the broken weights never leave the stage
    name = next(n for n in bundle.arg_params if n.endswith("conv0_weight"))
    np.testing.assert_array_equal(new.arg_params[name], bundle.arg_params[name])


def test_without_guard_the_broken_pass_goes_through(bundle):
    passes = Registry("pass")
    passes.register("double_weights", Pass("double_weights", _broken, "broken on purpose"))
    new, result = optimize(bundle, OptimizeParams(passes=("double_weights",), guard=False), passes=passes)
    assert result.status == "passed" and "max_abs_err" not in result.metrics["passes"][0]


def test_a_pass_error_is_a_coded_diagnostic(bundle):
    from pipeline.core.errors import StageError

    def failing(graph, params, inputs):
        raise StageError("nothing fused", code="OPT102", where="onednn_fuse", hint="check the backend")

    passes = Registry("pass")
    passes.register("onednn_fuse", Pass("onednn_fuse", failing, "fails"))
    new, result = optimize(bundle, OptimizeParams(passes=("onednn_fuse",)), passes=passes)
    assert new is bundle and result.status == "failed"
    assert [(d.code, d.node, d.message) for d in result.diagnostics] == [
        ("OPT102", "onednn_fuse", "pass 'onednn_fuse' failed: nothing fused")]


def test_params_validate_pass_names():
    params, issues = build_params(OptimizeParams, {"passes": ["fold_batchnrom"], "atol": 1e-5})
    assert params is None
    (issue,) = issues
    assert issue.path == ("passes", 0) and "did you mean 'fold_batchnorm'" in issue.message
    params, issues = build_params(OptimizeParams, {"passes": ["onednn_fuse"]})
    assert not issues and params.passes == ("onednn_fuse",) and params.guard is True


ALL_PASSES = ("strip_training", "eliminate", "fold_constants", "fold_batchnorm", "cse", "onednn_fuse")


def _sweep(name, side):
    bundle = zoo_bundle(name, (1, 3, side, side))
    new, result = optimize(bundle, OptimizeParams(passes=ALL_PASSES))
    assert result.status == "passed", [d.one_line() for d in result.diagnostics]
    assert [r["name"] for r in result.metrics["passes"]] == list(ALL_PASSES)
    assert new.node_count() < bundle.node_count()


@pytest.mark.parametrize("name,side", [("mobilenetv2_1.0", 64), ("squeezenet1.1", 224)])
def test_no_pass_changes_outputs_on_the_zoo_sample(name, side):
    _sweep(name, side)


@pytest.mark.slow
@pytest.mark.parametrize("name,side", [("resnet50_v1", 224), ("densenet121", 224), ("inceptionv3", 299),
                                       ("mobilenetv2_1.0", 224), ("vgg16_bn", 224)])
def test_no_pass_changes_outputs_on_the_full_zoo_sample(name, side):
    _sweep(name, side)
