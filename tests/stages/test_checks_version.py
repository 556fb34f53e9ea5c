"""EI1xx: graph saved by a newer MXNet than the target runtime; legacy graph without a version."""
from checks_helpers import SMALL, conv_net, make_bundle, run, subject


def test_newer_graph_is_an_error():
    bundle = make_bundle(conv_net(), SMALL, metadata={"mxnet_version": 20000})
    assert run("version", subject(bundle, "eia1.medium")) == [("EI101", "error", "")]


def test_newer_graph_message_names_both_versions():
    from pipeline.checks import RULES

    bundle = make_bundle(conv_net(), SMALL, metadata={"mxnet_version": 20000})
    (diag,) = RULES.get("version")(subject(bundle, "cpu"))
    assert "MXNet 2.0.0" in diag.message and "MXNet 1.9.1" in diag.message
    assert "undefined behaviour" in diag.message


def test_same_or_older_version_is_fine():
    for version in (10901, 10600, 10000):
        bundle = make_bundle(conv_net(), SMALL, metadata={"mxnet_version": version})
        assert run("version", subject(bundle)) == []


def test_missing_version_is_info_about_the_upgrader():
    bundle = make_bundle(conv_net(), SMALL, metadata={"mxnet_version": None})
    assert run("version", subject(bundle)) == [("EI102", "info", "")]


def test_version_falls_back_to_the_graph_attrs():
    import json

    bundle = make_bundle(conv_net(), SMALL)
    del bundle.metadata["mxnet_version"]
    assert run("version", subject(bundle)) == []  # the graph records 1.9.1
    graph = json.loads(bundle.symbol_json)
    graph["attrs"]["mxnet_version"] = ["int", 10902]
    bundle.symbol_json = json.dumps(graph)
    assert run("version", subject(bundle)) == [("EI101", "error", "")]
