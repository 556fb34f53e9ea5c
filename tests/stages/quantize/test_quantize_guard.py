"""The guard's judgement: per-sample cosine and relative error, top-1 only where it means something."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _with_wide_second_output(logits, rows=4):
    """A second, large output that both sides agree on: the sample's cosine stays high, so only
    top-1 can see a flipped class in the first output."""
    wide = np.random.default_rng(5).standard_normal((rows, 400)) * 10
    return [[np.asarray(logits, np.float32), wide.astype(np.float32)]]


def test_top1_judged_when_fp32_top1_varies():
    ref = np.eye(4) * 3 + 0.1  # confident logits: admissible noise flips none of them
    got = ref.copy()
    got[0] = [0.1, 3.2, 0.1, 0.1]
    r = judge(_with_wide_second_output(ref), _with_wide_second_output(got), 4, **T)
    assert r.min_cosine > 0.99 and r.max_rel_err < 0.2
    assert r.top1_applies and r.top1_agreement == 0.75 and r.top1_noise_floor == 0.0
    assert r.failures == ("top-1 agreement 0.7500 < 0.9900 (min_top1_agreement 0.99; noise of the largest "
                          "admissible error flips 0.0000 of fp32's top-1s)",)


def test_noise_floor_excuses_flips_on_near_ties_but_not_on_confident_logits():
    rng = np.random.default_rng(2)
    tied = rng.standard_normal((40, 10)) * 0.01 + 1.0  # random-weight logits: every class nearly ties
    tied[np.arange(40), np.arange(40) % 10] += 0.002  # and the top-1 varies, so top-1 is considered
    got = tied.copy()
    other = int(np.argsort(tied[0])[-2])
    got[0, other] = tied[0].max() + 0.005  # one flip in 40, with an error far inside the cosine threshold
    r = judge(batches(tied), batches(got), 40, **T)
    assert r.top1_applies and r.top1_agreement == pytest.approx(39 / 40)
    assert r.top1_noise_floor > 0.2 and r.passed
    confident = np.eye(10)[np.arange(40) % 10] * 10.0
    flipped = confident.copy()
    flipped[0] = np.roll(flipped[0], 1)
    c = judge(_with_wide_second_output(confident, 40), _with_wide_second_output(flipped, 40), 40, **T)
    assert c.top1_noise_floor == 0.0 and not c.passed
    assert len(c.failures) == 1 and c.failures[0].startswith("top-1 agreement")  # only top-1 broke


def test_the_top1_bar_does_not_depend_on_the_candidate():
    """The floor is a property of fp32 and the thresholds: two candidates get the same bar."""
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((50, 10))
    a = judge(batches(ref), batches(ref + 0.001 * rng.standard_normal((50, 10))), 50, **T)
    b = judge(batches(ref), batches(ref + 0.05 * rng.standard_normal((50, 10))), 50, **T)
    assert a.top1_noise_floor == b.top1_noise_floor > 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.001, 0.5))
def test_a_more_accurate_candidate_is_never_refused_on_top1_where_a_less_accurate_passes(seed, scale):
    """Along one error direction, fp32's class stays the argmax on an interval around 0, so the
    half-size error flips a subset of what the full-size one flips; with a bar that does not
    depend on the candidate, the half-size candidate passes top-1 whenever the full-size does."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((30, 8))
    err = rng.standard_normal((30, 8)) * scale * np.linalg.norm(ref, axis=1, keepdims=True)
    loose = dict(min_cosine=-1.0, max_rel_err=1e9, min_top1_agreement=0.9)  # top-1 decides alone
    small = judge(batches(ref), batches(ref + 0.5 * err), 30, **loose)
    large = judge(batches(ref), batches(ref + err), 30, **loose)
    assert small.top1_agreement >= large.top1_agreement
    if large.passed:
        assert small.passed


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


def _detections(n=40, seed=0):
    """GluonCV-style (ids, scores, boxes) of one image: distinct scores, boxes that do not overlap."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 5, (1, n, 1)).astype(np.float32)
    scores = np.sort(rng.uniform(0.15, 0.95, n))[::-1].reshape(1, n, 1).astype(np.float32)
    corners = np.stack([np.arange(n) * 20.0, np.zeros(n)], axis=1)
    boxes = np.concatenate([corners, corners + 15.0], axis=1)[None].astype(np.float32)
    return [ids, scores, boxes]


def test_detection_guard_accepts_reordered_rows_and_small_score_drift():
    """Elementwise, a reordering is a total mismatch; as detections it is the same set."""
    ref = _detections()
    order = np.random.default_rng(1).permutation(40)
    got = [ref[0][:, order], ref[1][:, order] + 0.01, ref[2][:, order]]
    elementwise = judge([ref], [got], 1, min_cosine=0.99, max_rel_err=0.2, min_top1_agreement=0.99)
    result = judge([ref], [got], 1, min_cosine=0.99, max_rel_err=0.2, min_top1_agreement=0.99, mode="detection")
    assert not elementwise.passed
    assert result.passed and result.detection_agreement == 1.0 and result.metrics()["guard_mode"] == "detection"


def test_detection_guard_fails_when_classes_flip_or_boxes_move():
    ref = _detections()
    flipped = [ref[0].copy(), ref[1], ref[2]]
    flipped[0][0, :6] = (flipped[0][0, :6] + 1) % 5  # 6 of 40 detections change class: 0.85 agreement
    moved = [ref[0], ref[1], ref[2].copy()]
    moved[2][0, :6, :2] += 10.0  # 6 boxes shifted by 2/3 of their size: IoU < 0.5
    for got, worst in ((flipped, 0.85), (moved, 0.85)):
        result = judge([ref], [got], 1, min_cosine=0.99, max_rel_err=0.2, min_top1_agreement=0.99, mode="detection")
        assert not result.passed and abs(result.detection_agreement - worst) < 0.02
        assert "detection agreement" in result.failures[0]
        assert "detections judged as sets" in refusal(result, "int8", "openvino").message
