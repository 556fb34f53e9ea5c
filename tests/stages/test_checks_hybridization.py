"""EI4xx: a Gluon source recorded as not hybridized/exported."""
from checks_helpers import SMALL, conv_net, make_bundle, run, subject


def _bundle(source):
    return make_bundle(conv_net(), SMALL, metadata={"source": source})


def test_gluon_not_hybridized_is_an_error():
    assert run("hybridization", subject(_bundle({"kind": "gluon", "hybridized": False}))) == [
        ("EI401", "error", "")]
    assert run("hybridization", subject(_bundle({"kind": "gluon", "hybridized": True, "exported": False}))) == [
        ("EI401", "error", "")]


def test_hybridized_export_and_other_sources_are_fine():
    assert run("hybridization", subject(_bundle({"kind": "gluon", "hybridized": True, "exported": True}))) == []
    assert run("hybridization", subject(_bundle({"kind": "gluon", "model": "resnet18_v1"}))) == []  # not recorded
    assert run("hybridization", subject(_bundle({"kind": "checkpoint", "hybridized": False}))) == []
