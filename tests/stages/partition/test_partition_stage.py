"""The partition stage on ResNet-18: plan, picture, and an executable bundle that matches."""
import json

import pytest

import pipeline.partition.runtime  # noqa: F401  (registers the subgraph custom op)
from pipeline.model.bundle import ModelBundle
from pipeline.graph import random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.core.paramspec import build_params
from pipeline.core.stage import STAGES, RunContext
from pipeline.targets.base import TARGETS
from pipeline.targets.cpu import CpuTarget
from stages.partition import PartitionParams, partition_bundle


class _TestAccelerator(CpuTarget):
    """An accelerator-like target with a small op set (no Pooling, no Flatten)."""

    name = "test-accel-graph"
    is_accelerator = True

    @classmethod
    def supported_ops(cls):
        return frozenset({"Convolution", "BatchNorm", "Activation", "elemwise_add", "FullyConnected"})


@pytest.fixture
def test_accelerator(monkeypatch):
    """Registered only for the test that asks for it, so no other test sees an extra target."""
    monkeypatch.setitem(TARGETS._items, _TestAccelerator.name, _TestAccelerator)
    return _TestAccelerator


@pytest.fixture(scope="module")
def bundle():
    return zoo_bundle("resnet18_v1", (1, 3, 64, 64))


@pytest.fixture(scope="module")
def reference(bundle):
    feed = random_feed(bundle.inputs, seed=4)
    return feed, run_bundle(bundle, feed)


def _matches(new, reference, api="symbol"):
    feed, ref = reference
    with CpuTarget(api=api) as target:
        target.deploy(new)
        got = target.infer(feed)
    result = compare(ref, got, atol=1e-5, rtol=1e-5)
    assert result.passed, result


def test_resnet18_with_pooling_excluded(bundle, reference, tmp_path):
    ctx = RunContext("p", tmp_path, tmp_path, tmp_path, bundle.inputs)
    new, result = STAGES.get("partition")().run(bundle, PartitionParams("cpu", exclude_ops=("Pooling",)), ctx)
    assert result.status == "passed" and not result.diagnostics
    assert result.metrics["subgraphs"] >= 2 and result.metrics["cpu_nodes"] == 2
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [n["op"] for n in plan["cpu_nodes"]] == ["Pooling", "Pooling"]
    assert all(n["reason"] == "excluded by exclude_ops" for n in plan["cpu_nodes"])
    middle = plan["subgraphs"][1]
    assert middle["ops"]["Convolution"] == 19 and "Pooling" not in middle["ops"]
    (boundary,) = [t for t in middle["inputs"] if t["kind"] == "activation"]
    assert boundary == {"tensor": "resnetv10_pool0_fwd", "kind": "activation", "shape": [1, 64, 16, 16],
                        "dtype": "float32", "bytes": 64 * 16 * 16 * 4}
    dot = (tmp_path / "plan.dot").read_text()
    assert dot.startswith("digraph partition {") and dot.count("subgraph \"cluster_") == result.metrics["subgraphs"]
    assert result.artifacts == {"plan": "plan.json", "plan_dot": "plan.dot"}
    ops = [n["op"] for n in json.loads(new.symbol_json)["nodes"] if n["op"] != "null"]
    assert ops.count("Custom") == result.metrics["subgraphs"] and ops.count("Pooling") == 2
    # params stay where they were: same names, same arg/aux split, same values
    assert set(new.arg_params) == set(bundle.arg_params) and set(new.aux_params) == set(bundle.aux_params)
    _matches(new, reference)
    _matches(new, reference, api="module")


def test_restricted_target_and_saved_bundle_reloads(bundle, reference, tmp_path, test_accelerator):
    new, result, artifacts = partition_bundle(bundle, PartitionParams("test-accel-graph"))
    assert result.metrics["subgraphs"] >= 2
    plan = json.loads(artifacts["plan.json"])
    reasons = {n["op"]: n["reason"] for n in plan["cpu_nodes"]}
    assert reasons["Pooling"] == "op 'Pooling' not supported by target 'test-accel-graph'"
    new.save(tmp_path)
    _matches(ModelBundle.load(tmp_path), reference)


def test_exclude_nodes_and_unknown_names_warn(bundle, reference):
    params = PartitionParams("cpu", exclude_ops=("Poolng",), exclude_nodes=("resnetv10_stage2_conv0_fwd", "nope"))
    new, result, artifacts = partition_bundle(bundle, params)
    assert [(d.code, d.severity) for d in result.diagnostics] == [("PRT101", "warning"), ("PRT102", "warning")]
    assert result.diagnostics[0].node == "nope"
    plan = json.loads(artifacts["plan.json"])
    assert [n["name"] for n in plan["cpu_nodes"]] == ["resnetv10_stage2_conv0_fwd"]
    assert result.metrics["subgraphs"] == 2
    _matches(new, reference)


def test_nothing_supported_leaves_the_model_alone(bundle):
    ops = sorted({node["op"] for node in json.loads(bundle.symbol_json)["nodes"]} - {"null"})
    new, result, _ = partition_bundle(bundle, PartitionParams("cpu", exclude_ops=tuple(ops)))
    assert result.metrics["subgraphs"] == 0 and new.symbol_json == bundle.symbol_json
    assert [d.code for d in result.diagnostics] == ["PRT103"]


def test_params_validate_target():
    params, issues = build_params(PartitionParams, {"target": "cpuu"})
    assert params is None and "did you mean 'cpu'" in issues[0].message
    assert "cpu" in TARGETS


def test_partitioning_twice_nests_and_still_matches(bundle, reference):
    once, _, _ = partition_bundle(bundle, PartitionParams("cpu", exclude_ops=("Pooling",)))
    twice, result, _ = partition_bundle(once, PartitionParams("cpu", exclude_ops=("Pooling",)))
    names = [n["name"] for n in json.loads(twice.symbol_json)["nodes"] if n["op"] == "Custom"]
    assert len(names) == len(set(names)) == result.metrics["subgraphs"]
    assert not set(names) & {"mxdeploy_subgraph0", "mxdeploy_subgraph1", "mxdeploy_subgraph2"}
    _matches(twice, reference)


@pytest.mark.slow
@pytest.mark.parametrize("name,side,excluded", [("densenet121", 224, "Pooling"), ("inceptionv3", 299, "Concat"),
                                                ("mobilenetv2_1.0", 224, "Pooling")])
def test_large_models_partition_and_match(name, side, excluded):
    big = zoo_bundle(name, (1, 3, side, side))
    new, result, _ = partition_bundle(big, PartitionParams("cpu", exclude_ops=(excluded,)))
    assert result.metrics["subgraphs"] >= 2
    feed = random_feed(big.inputs)
    assert compare(run_bundle(big, feed), run_bundle(new, feed), atol=1e-4, rtol=1e-3).passed


def test_resnet18_for_eia1_large_with_pooling_excluded(bundle, reference):
    """The issue's acceptance case: an accelerator target, Pooling on the CPU, runs and verifies."""
    import pipeline.targets  # noqa: F401  (registers the eia sizes)

    new, result, artifacts = partition_bundle(bundle, PartitionParams("eia1.large", exclude_ops=("Pooling",)))
    assert result.metrics["subgraphs"] >= 2 and result.metrics["cpu_nodes"] == 2
    assert json.loads(artifacts["plan.json"])["target"] == "eia1.large"
    _matches(new, reference)


def test_fused_graph_for_an_accelerator_says_why_nothing_runs_there(bundle):
    import pipeline.targets  # noqa: F401  (registers the eia sizes)
    from pipeline.targets.onednn import OneDnnTarget

    params = PartitionParams("eia1.large", exclude_ops=("Pooling",))
    new, result, _ = partition_bundle(OneDnnTarget.fused(bundle), params)
    (diag,) = result.diagnostics
    assert diag.code == "PRT103" and "drop onednn_fuse" in diag.hint and result.metrics["subgraphs"] == 0
