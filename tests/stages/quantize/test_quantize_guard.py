"""The guard's judgement: per-sample cosine and relative error, top-1 only where it means something."""
import numpy as np
import pytest

from pipeline.precision.guard import judge, refusal

T = dict(min_cosine=0.99, max_rel_err=0.2, min_top1_agreement=0.99)


def batches(rows):
    return [[np.asarray(rows, dtype=np.float32)]]


def test_identical_outputs_pass():
    x = np.random.default_rng(0).standard_normal((4, 10))
    r = judge(batches(x), batches(x), 4, **T)
    assert r.passed and r.min_cosine == pytest.approx(1.0) and r.max_rel_err == 0.0 and r.samples == 4


def test_a_uniform_scale_keeps_cosine_but_fails_relative_error():
    x = np.random.default_rng(0).standard_normal((4, 10))
    r = judge(batches(x), batches(0.5 * x), 4, **T)
    assert r.min_cosine > 0.9999 and not r.passed
    assert r.failures == ("relative error 0.5000 > max_rel_err 0.2 (4 of 4 samples above)",)


def test_one_bad_sample_fails_although_the_mean_is_fine():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((32, 10))
    got = ref.copy()
    got[7] = rng.standard_normal(10)
    r = judge(batches(ref), batches(got), 32, **T)
    assert not r.passed and any("cosine" in f and "1 of 32" in f for f in r.failures)


def test_top1_not_judged_when_fp32_top1_never_varies():
    """A random-weight network: every input has the same class; a quantization can keep it and
    still be wrong, or flip it on near-ties; either way top-1 says nothing."""
    ref = np.tile(np.array([5.0, 1.0, 0.0]), (8, 1)) + 0.001 * np.arange(8)[:, None]
    got = ref.copy()
    got[:, 1] = 5.01  # every top-1 flips, yet cosine and relative error are fine
    r = judge(batches(ref), batches(got), 8, min_cosine=0.8, max_rel_err=0.9, min_top1_agreement=0.99)
    assert r.top1_agreement == 0.0 and not r.top1_applies and r.passed


def test_top1_judged_when_fp32_top1_varies():
    ref = np.eye(4) * 3 + 0.1
    got = ref.copy()
    got[0] = [0.1, 3.2, 0.1, 0.1]
    r = judge(batches(ref), batches(got), 4, min_cosine=0.0, max_rel_err=10.0, min_top1_agreement=0.99)
    assert r.top1_applies and r.top1_agreement == 0.75
    assert r.failures == ("top-1 agreement 0.7500 < min_top1_agreement 0.99",)


def test_samples_span_several_outputs_and_feeds():
    a = [np.ones((2, 3)), np.ones((2, 1, 2))]
    b = [np.ones((2, 3)), np.array([[[1.0, 1.0]], [[-1.0, -1.0]]])]
    r = judge([a, a], [b, a], 2, **T)
    assert r.samples == 4 and not r.passed
    assert np.isclose(r.min_cosine, (3 - 2) / 5)


def test_refusal_names_every_measurement_and_threshold():
    x = np.random.default_rng(0).standard_normal((4, 10))
    x[:, 3] = 10.0  # the same top-1 for every sample, as a random-weight network has
    r = judge(batches(x), batches(0.5 * x), 4, **T)
    d = refusal(r, "int8", "onnxruntime")
    assert d.code == "QNT101" and d.severity == "error"
    assert "int8 model for onnxruntime refused by the accuracy guard on 4 held-out samples" in d.message
    assert "max_rel_err 0.2" in d.message and "min cosine 1.0000" in d.message
    assert "not judged: the fp32 top-1 is the same for every sample" in d.message
