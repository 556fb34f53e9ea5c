"""onednn_fuse: fused _sg_mkldnn_* nodes appear and outputs stay; nothing fused is an error."""
import pytest

from pipeline.core.errors import StageError
from pipeline.graph import bundle_from_graph, graph_of, random_feed, run_bundle
from pipeline.measure.compare import compare
from pipeline.graph.onednn_fusion import fuse, is_fused
from pipeline.model.zoo_bundle import zoo_bundle
from pipeline.graph.passes import PASSES


@pytest.fixture(scope="module")
def bundle():
    return zoo_bundle("mobilenetv2_1.0", (1, 3, 64, 64))


def test_fuses_and_keeps_outputs(bundle):
    graph, params = graph_of(bundle)
    new_graph, new_params = PASSES.get("onednn_fuse")(graph, params, bundle.inputs)
    assert is_fused(new_graph) and not is_fused(graph)
    new = bundle_from_graph(bundle, new_graph, new_params, stage="optimize")
    assert new.node_count() < bundle.node_count()
    feed = random_feed(bundle.inputs)
    result = compare(run_bundle(bundle, feed), run_bundle(new, feed), atol=1e-4, rtol=1e-3)
    assert result.passed, result
    again, _ = PASSES.get("onednn_fuse")(new_graph, new_params, bundle.inputs)
    assert sorted(again.nodes) == sorted(new_graph.nodes)


@pytest.mark.parametrize("backend,with_shapes", [("ONEDNN", True), ("MKLDNN", False)])
def test_silent_no_op_becomes_an_error(bundle, backend, with_shapes):
    """MXNet only logs for an unknown backend or missing shapes; we raise OPT102."""
    graph, params = graph_of(bundle)
    with pytest.raises(StageError) as info:
        fuse(graph, params, bundle.inputs if with_shapes else [], backend)
    assert info.value.code == "OPT102" and backend in info.value.message
