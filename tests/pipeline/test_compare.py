"""The comparator's contract: numpy's allclose rule, explained by error/cosine/top-k fields."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.measure.compare import compare

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), elements=finite)


@given(arrays)
def test_identical_outputs_compare_perfectly(x):
    result = compare([x], [x.copy()], atol=0.0, rtol=0.0)
    assert result.passed and result.reason == ""
    assert result.max_abs_err == 0.0 and result.max_rel_err == 0.0 and result.mismatches == 0
    assert result.top1_agreement == 1.0 and result.topk_agreement == 1.0
    assert result.cosine == pytest.approx(1.0, abs=1e-12) or not np.any(x)


@given(arrays, st.floats(0.5, 2.0))
def test_scaling_keeps_ranking_and_direction(x, scale):
    assume(np.abs(x).max() > 1e-3)
    got = (x.astype(np.float64) * scale)
    result = compare([x], [got], atol=0.0, rtol=0.0)
    assert result.cosine == pytest.approx(1.0, abs=1e-9)
    assert result.top1_agreement == 1.0 and result.topk_agreement == 1.0
    nonzero = x != 0
    assert result.max_rel_err == pytest.approx(abs(scale - 1.0), rel=1e-6, abs=1e-12) if nonzero.any() else True
    # the pass rule is |got - ref| <= atol + rtol*|ref|: a relative change passes exactly when rtol covers it
    assert compare([x], [got], atol=0.0, rtol=abs(scale - 1.0) * 1.001 + 1e-12).passed
    if abs(scale - 1.0) > 1e-6:
        assert not compare([x], [got], atol=0.0, rtol=abs(scale - 1.0) * 0.5).passed


@given(arrays, st.data())
def test_nan_anywhere_fails(x, data):
    where = data.draw(st.integers(0, x.size - 1))
    side = data.draw(st.sampled_from(["reference", "deployed"]))
    bad = x.copy()
    bad.flat[where] = np.nan
    ref, got = (bad, x) if side == "reference" else (x, bad)
    result = compare([ref], [got], atol=1e9, rtol=1e9)
    assert not result.passed
    assert f"the {side} output 0 contains NaN" == result.reason
    assert math.isnan(result.cosine) and result.metrics()["cosine"] is None


@given(arrays, st.floats(1e-6, 1e-2), st.floats(0, 1e-2))
def test_matches_numpy_allclose(x, atol, rtol):
    noise = np.random.default_rng(0).normal(scale=atol, size=x.shape)
    got = x.astype(np.float64) + noise
    assert compare([x], [got], atol=atol, rtol=rtol).passed == np.allclose(got, x.astype(np.float64), rtol=rtol, atol=atol)


def test_worst_element_and_reason_name_the_output():
    ref = [np.zeros((2, 3)), np.array([1.0, 2.0, 3.0])]
    got = [np.zeros((2, 3)), np.array([1.0, 2.5, 3.0])]
    result = compare(ref, got, atol=1e-4, rtol=1e-3)
    assert not result.passed and result.mismatches == 1
    assert (result.worst_output, result.worst_index, result.worst_ref, result.worst_got) == (1, (1,), 2.0, 2.5)
    assert result.max_abs_err == 0.5 and result.max_rel_err == 0.25
    assert "output 1 at [1]: reference 2, deployed 2.5" in result.reason


def test_count_and_shape_mismatches_fail_with_a_reason():
    one = np.ones((1, 4))
    assert compare([one], [one, one], atol=1, rtol=1).reason == "the deployed model has 2 outputs, the reference 1"
    result = compare([one], [np.ones((4, 1))], atol=1, rtol=1)
    assert not result.passed and result.reason == "output 0 has shape (4, 1), the reference (1, 4)"
    assert result.metrics()["max_abs_err"] is None


def test_topk_agreement_per_row():
    ref = np.array([[0.1, 0.9, 0.5, 0.0], [0.8, 0.1, 0.05, 0.05]])
    got = np.array([[0.1, 0.5, 0.9, 0.0], [0.8, 0.1, 0.05, 0.05]])  # row 0: top-1 swapped, same top-2 set
    result = compare([ref], [got], atol=0, rtol=0, top_k=2)
    assert result.top1_agreement == 0.5 and result.topk_agreement == 1.0
    assert result.metrics()["top2_agreement"] == 1.0
    result = compare([ref], [got], atol=0, rtol=0, top_k=1)
    assert result.topk_agreement == 0.5


def test_zero_reference_has_no_relative_error_but_counts_against_atol():
    result = compare([np.zeros(3)], [np.array([0.0, 1e-5, 0.0])], atol=1e-4, rtol=0)
    assert result.passed and result.max_rel_err == 0.0 and result.max_abs_err == 1e-5
    assert not compare([np.zeros(3)], [np.array([0.0, 1e-3, 0.0])], atol=1e-4, rtol=0).passed


def test_equal_infinities_are_equal():
    x = np.array([np.inf, -np.inf, 1.0])
    assert compare([x], [x.copy()], atol=0, rtol=0).passed
    assert not compare([x], [np.array([np.inf, np.inf, 1.0])], atol=0, rtol=0).passed


def test_equal_nan_counts_a_shared_nan_as_equal_and_nothing_else():
    """The optimize stage's pass guard: a NaN the model produced before and after a pass is no change."""
    ref = np.array([np.nan, 1.0, 2.0])
    assert not compare([ref], [ref.copy()], atol=0, rtol=0).passed
    same = compare([ref], [ref.copy()], atol=0, rtol=0, equal_nan=True)
    assert same.passed and same.max_abs_err == 0.0 and same.max_rel_err == 0.0 and same.cosine == pytest.approx(1.0)
    moved = compare([ref], [np.array([1.0, np.nan, 2.0])], atol=0, rtol=0, equal_nan=True)
    assert not moved.passed and "NaN" in moved.reason
    changed = compare([ref], [np.array([np.nan, 1.5, 2.0])], atol=0.1, rtol=0, equal_nan=True)
    assert not changed.passed and changed.max_abs_err == 0.5 and changed.worst_index == (1,)


def test_a_structural_difference_fails_with_a_reason_and_no_error_size():
    result = compare([np.ones((2, 3))], [np.ones((3, 2))], atol=1, rtol=1, equal_nan=True)
    assert not result.passed and "shape" in result.reason and math.isnan(result.max_abs_err)
    assert result.metrics()["max_abs_err"] is None
