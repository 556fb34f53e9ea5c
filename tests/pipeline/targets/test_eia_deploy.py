"""Deploying to an eia size: accelerator subgraphs on the (embedded) server, the rest on the CPU."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.model.resolve import export_block, zoo_block
from pipeline.targets import TARGETS
from stages.partition import PartitionParams, partition_bundle


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    return export_block(zoo_block("resnet18_v1"), [TensorSpec("data", (1, 3, 64, 64))],
                        tmp_path_factory.mktemp("r18"))


def _feed(bundle, seed=0):
    rng = np.random.default_rng(seed)
    return {s.name: rng.standard_normal(s.shape).astype("float32") for s in bundle.inputs}


def _subgraph_engines(bundle) -> set[str]:
    nodes = json.loads(bundle.symbol_json)["nodes"]
    return {n["attrs"]["engine"] for n in nodes if n["op"] == "Custom"}


@pytest.mark.parametrize("api", ["symbol", "module"])
def test_eia_deploy_partitions_and_matches_cpu(resnet18, api):
    feed = _feed(resnet18)
    with TARGETS.get("cpu")(api=api).deploy(resnet18) as cpu:
        expected = cpu.infer(feed)
    with TARGETS.get("eia1.large")(api=api).deploy(resnet18) as eia:
        got = eia.infer(feed)
        got_again = eia.infer(_feed(resnet18, seed=1))
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-5)
    assert got_again[0].shape == expected[0].shape


def test_partitioned_bundle_with_cpu_fallback_runs_on_the_accelerator(resnet18):
    plan_bundle, result, _ = partition_bundle(resnet18, PartitionParams(target="eia1.medium", exclude_ops=("Pooling",)))
    assert result.metrics["subgraphs"] >= 2
    assert _subgraph_engines(plan_bundle) == {"accelerator"}
    assert "pipeline.accelerator.subgraph_engine" in plan_bundle.metadata["runtime_modules"]
    feed = _feed(resnet18)
    with TARGETS.get("cpu")().deploy(resnet18) as cpu:
        expected = cpu.infer(feed)
    with TARGETS.get("eia1.medium")().deploy(plan_bundle) as eia:
        got = eia.infer(feed)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-5)


def test_model_too_large_for_the_size_is_refused_with_the_size_that_fits():
    import mxnet as mx

    from pipeline.model.bundle import ModelBundle
    from pipeline.core.errors import MxdeployError

    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(data, num_hidden=20000, name="fc")  # 20000 x 16000 floats: 1.19 GiB
    weights = {"fc_weight": np.zeros((20000, 16000), "float32"), "fc_bias": np.zeros(20000, "float32")}
    big = ModelBundle.from_symbol(net, weights, {}, [TensorSpec("data", (1, 16000))])
    with pytest.raises(MxdeployError) as info:
        with TARGETS.get("eia1.medium")().deploy(big) as eia:
            eia.infer({"data": np.zeros((1, 16000), "float32")})
    assert info.value.code == "ACC110"
    assert "eia2.medium" in info.value.message + info.value.hint  # 2 GiB: the least memory that holds it
