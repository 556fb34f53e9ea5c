"""The onednn target: deploys the oneDNN-fused graph and matches the plain cpu target."""
import pytest

from pipeline.graph import graph_of, random_feed
from pipeline.measure.compare import compare
from pipeline.graph.onednn_fusion import is_fused
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.targets.base import TARGETS
from pipeline.targets.cpu import CpuTarget
from pipeline.targets.onednn import OneDnnTarget


@pytest.mark.parametrize("name,side", [("resnet18_v1", 64), ("mobilenetv2_1.0", 64)])
@pytest.mark.parametrize("api", ["symbol", "module"])
def test_matches_cpu(name, side, api):
    bundle = zoo_bundle(name, (1, 3, side, side))
    feed = random_feed(bundle.inputs, seed=7)
    with CpuTarget(api=api) as cpu, OneDnnTarget(api=api) as onednn:
        ref = cpu.deploy(bundle).infer(feed)
        got = onednn.deploy(bundle).infer(feed)
        assert is_fused(graph_of(onednn.fused_bundle)[0])
        assert onednn.fused_bundle.node_count() < bundle.node_count()
    result = compare(ref, got, atol=1e-4, rtol=1e-3)
    assert result.passed, result


def test_already_fused_bundle_is_deployed_as_is():
    bundle = zoo_bundle("resnet18_v1", (1, 3, 32, 32))
    fused = OneDnnTarget.fused(bundle)
    assert OneDnnTarget.fused(fused) is fused


def test_registered_and_available():
    assert TARGETS.get("onednn") is OneDnnTarget
    assert OneDnnTarget.is_available() and OneDnnTarget.version() == "1.9.1"
