"""pipeline/targets/contexts.py: the one reader of context strings (deploy's DEP106, check's EI3xx)."""
import pytest

from pipeline.targets.contexts import Context, device_type, parse_context


@pytest.mark.parametrize("text, parsed", [
    ("cpu(0)", Context("cpu", 0)), ("eia", Context("eia", 0)), ("gpu(3)", Context("gpu", 3)),
    (" GPU ( 1 ) ", Context("gpu", 1)), ("cpu()", Context("cpu", 0)),
    ("tpu(0)", None), ("gpu:0", None), ("cpu(x)", None), ("", None),
])
def test_parse_context(text, parsed):
    assert parse_context(text) == parsed


def test_device_type_of_an_unreadable_string_matches_no_device():
    assert device_type("Eia(0)") == "eia" and device_type("GPU:0") == "gpu:0"
