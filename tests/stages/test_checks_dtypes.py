"""EI8xx: input and param dtypes the target does not compute in."""
from checks_helpers import SMALL, conv_net, make_bundle, run, subject


def test_float32_and_float16_are_fine_on_accelerators():
    assert run("dtypes", subject(make_bundle(conv_net(), SMALL), "eia1.medium")) == []
    half = make_bundle(conv_net(), SMALL, dtype="float16", param_dtype="float16")
    assert run("dtypes", subject(half, "eia2.large")) == []


def test_float64_input_is_an_error_on_accelerators_only():
    bundle = make_bundle(conv_net(), SMALL, dtype="float64")
    assert run("dtypes", subject(bundle, "eia1.medium")) == [("EI801", "error", "data")]
    assert run("dtypes", subject(bundle, "cpu")) == []


def test_params_of_other_dtypes_are_grouped():
    bundle = make_bundle(conv_net(), SMALL, param_dtype="int8")
    from pipeline.checks import RULES

    (diag,) = RULES.get("dtypes")(subject(bundle, "eia1.medium"))
    assert (diag.code, diag.severity, diag.node) == ("EI802", "error", "conv0_bias")
    assert "4 param(s) are int8" in diag.message
