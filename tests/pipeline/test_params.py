from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

import pytest
from hypothesis import given, strategies as st

from pipeline.core.paramspec import OneOf, build_params, param, spec_rows, to_plain


@dataclass(frozen=True)
class Inner:
    samples: int = param(8, "how many")


@dataclass(frozen=True)
class Example:
    name: str = param(help="required name")
    atol: float = param(1e-4, "absolute tolerance")
    runs: int = param(20, "timed runs")
    mode: Literal["a", "b"] = param("a", "mode")
    target: Annotated[str, OneOf(lambda: ["cpu", "onednn"], "target")] = param("cpu", "where")
    tags: list[str] = param(help="tags", factory=list)
    kwargs: dict[str, Any] = param(help="extra", factory=dict)
    limit: Optional[int] = param(None, "optional")
    inner: Inner = param(help="nested", factory=Inner)


def test_builds_and_converts_types():
    params, issues = build_params(Example, {"name": "x", "atol": 1, "tags": ["a"], "inner": {"samples": 3}})
    assert issues == []
    assert params.atol == 1.0 and isinstance(params.atol, float)
    assert params.tags == ("a",) and params.inner == Inner(3)
    assert to_plain(params)["tags"] == ["a"]


@pytest.mark.parametrize("values, path, code, fragment", [
    ({"name": "x", "atol": "tight"}, ("atol",), "CFG004", "expected a number, got 'tight'"),
    ({"name": "x", "runs": True}, ("runs",), "CFG004", "expected an integer"),
    ({"name": "x", "mode": "c"}, ("mode",), "CFG004", "expected one of a, b"),
    ({"name": "x", "target": "cpuu"}, ("target",), "CFG014", "did you mean 'cpu'"),
    ({"name": "x", "atoll": 1}, ("atoll",), "CFG005", "did you mean 'atol'"),
    ({}, ("name",), "CFG006", "missing required parameter 'name'"),
    ({"name": "x", "tags": [1]}, ("tags", 0), "CFG004", "expected a string"),
    ({"name": "x", "inner": {"samples": "many"}}, ("inner", "samples"), "CFG004", "expected an integer"),
])
def test_issues_carry_path_code_and_message(values, path, code, fragment):
    params, issues = build_params(Example, values)
    assert params is None
    assert [(i.path, i.code) for i in issues] == [(path, code)]
    assert fragment in issues[0].message


def test_all_issues_are_collected_at_once():
    _, issues = build_params(Example, {"atol": "x", "runs": "y", "bogus": 1})
    assert {i.code for i in issues} == {"CFG004", "CFG005", "CFG006"}
    assert len(issues) == 4


def test_spec_rows_describe_every_field():
    rows = {r["name"]: r for r in spec_rows(Example)}
    assert rows["name"]["required"] and rows["atol"]["default"] == 1e-4
    assert rows["target"]["type"] == "target"
    assert rows["tags"]["type"] == "list of string"


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**6, 10**6))
def test_any_number_is_accepted_as_float(value):
    params, issues = build_params(Example, {"name": "n", "atol": value})
    assert issues == [] and params.atol == float(value)


@given(st.text() | st.lists(st.integers()) | st.none() | st.booleans())
def test_non_numbers_are_refused_as_float(value):
    params, issues = build_params(Example, {"name": "n", "atol": value})
    assert params is None and issues[0].path == ("atol",)
