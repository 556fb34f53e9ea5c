"""Verify's compare modes (pipeline/measure/modes.py, detection.py, segmentation.py)."""

import numpy as np

from pipeline.measure import modes

OPTS = dict(modes.OPTION_DEFAULTS)


def _run(mode, ref, got):
    return modes.MODES.get(mode)(ref, got, atol=1e-4, rtol=1e-3, top_k=5, options=OPTS)


def _detections():
    ids = np.array([[[0.], [3.], [3.], [-1.]]])
    scores = np.array([[[0.9], [0.6], [0.3], [-1.]]])
    boxes = np.array([[[10., 10., 50., 60.], [0., 0., 20., 20.], [30., 30., 90., 80.], [-1., -1., -1., -1.]]])
    return [ids, scores, boxes]


def test_detection_passes_on_reordered_rows_and_fails_elementwise_there():
    ref = _detections()
    order = [2, 0, 1, 3]
    got = [a[:, order] for a in ref]
    assert not _run("elementwise", ref, got).passed
    result = _run("detection", ref, got)
    assert result.passed and result.metrics()["matched_fraction"] == 1.0


def test_detection_fails_on_one_moved_box():
    ref = _detections()
    got = [a.copy() for a in ref]
    got[2][0, 1] += 2.0  # a 20-pixel box shifted by 2 pixels: IoU 0.82
    result = _run("detection", ref, got)
    assert not result.passed and "has no counterpart" in result.reason


def test_detection_fails_on_one_flipped_class():
    ref = _detections()
    got = [a.copy() for a in ref]
    got[0][0, 2] = 5.0
    assert not _run("detection", ref, got).passed


def test_detection_fails_on_a_score_beyond_score_tol_and_passes_within():
    ref = _detections()
    got = [a.copy() for a in ref]
    got[1][0, 1] += 5e-4
    assert _run("detection", ref, got).passed
    got[1][0, 1] += 1e-3
    assert not _run("detection", ref, got).passed


def test_detection_ignores_a_box_on_the_threshold_only_one_side_keeps():
    ref = _detections()
    got = [a.copy() for a in ref]
    ref[1][0, 2], got[1][0, 2] = 0.0105, -1.0  # reference just above 0.01, deployed dropped it
    got[0][0, 2] = -1.0
    assert _run("detection", ref, got).passed


def test_detection_refuses_outputs_that_are_not_detections():
    result = _run("detection", [np.zeros((1, 10))], [np.zeros((1, 10))])
    assert not result.passed and "ids, scores, boxes" in result.reason


def test_segmentation_passes_reordered_equal_logits_and_fails_on_a_flipped_region():
    rng = np.random.default_rng(0)
    ref = [rng.standard_normal((1, 4, 16, 16))]
    assert _run("segmentation", ref, [ref[0].copy()]).passed
    got = ref[0].copy()
    got[0, :, :4, :4] = got[0, ::-1, :4, :4]  # a 4x4 region's classes permuted: 1/16 of the pixels
    result = _run("segmentation", ref, [got])
    assert not result.passed and result.metrics()["pixel_agreement"] < 0.999


def test_segmentation_fails_on_the_pixel_rule_even_within_elementwise_tolerance():
    ref = np.zeros((1, 2, 10, 10))
    ref[0, 1] = 1e-5  # class 1 wins every pixel by 1e-5
    got = ref.copy()
    got[0, 1, :2] = -1e-5  # 20% of the pixels flip, every logit within atol
    result = modes.MODES.get("segmentation")([ref], [got], atol=1e-4, rtol=0, top_k=1, options=OPTS)
    assert not result.passed and "per-pixel classes" in result.reason


def test_default_mode_follows_the_family():
    assert [modes.default_mode(f) for f in ("detection", "segmentation", "pose", None)] == \
        ["detection", "segmentation", "elementwise", "elementwise"]


def test_vacuous_outputs_and_tied_selections():
    assert modes.vacuous_outputs([np.full((1, 3), 1e-6), np.ones((1, 3))], 1e-4) == [0]
    assert modes.tied_selections([np.array([[5., 4., 3., 3., 1.]])], 3, "elementwise") == 1
    assert modes.tied_selections([np.array([[5., 4., 3., 2., 1.]])], 3, "elementwise") == 0
    # BERT's encoder output: positions past the valid length are masked to a constant row, which ranks nothing
    masked = np.array([[[5., 4., 3., 3., 1.], [0., 0., 0., 0., 0.], [2., 2., 2., 2., 2.]]])
    assert modes.tied_selections([masked], 3, "elementwise") == 1
    dets = _detections()
    dets[1][0, 2] = 0.6
    assert modes.tied_selections(dets, 5, "detection") == 1


def _many_detections(n, rng, classes=80):
    ids = rng.integers(0, classes, n).astype(np.float64)
    ids[: n // 2] = 7  # half the rows in one class: the row blocks are exercised, not only the class split
    scores = rng.uniform(0.02, 1.0, n)
    xy = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 50, (n, 2))], axis=1)
    order = np.argsort(-scores)
    return [ids[order][None, :, None], scores[order][None, :, None], boxes[order][None]]


def test_detection_matching_memory_is_bounded_on_detectors_without_post_nms_topk():
    """Faster R-CNN FPN (COCO, post_nms -1) emits 1000 ROIs x 80 classes = 80,000 rows; the dense
    (n, m, 4) matching took 200 GB there and the verify worker was SIGKILLed."""
    import tracemalloc

    rng = np.random.default_rng(0)
    ref = _many_detections(6000, rng)
    got = [a[:, ::-1].copy() for a in ref]  # every row present, in another order
    got[2][0, 10] += 3.0  # one box moved: the matching still has to find it
    tracemalloc.start()
    try:
        result = _run("detection", ref, got)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.passed and "has no counterpart" in result.reason
    assert result.metrics()["detections_compared"] > 11900  # all but those within score_tol of the last score
    assert peak < 256 * 2 ** 20, f"peak {peak / 2 ** 20:.0f} MiB: the dense 6000 x 6000 form is 1.1 GiB"
    got[2][0, 10] -= 3.0
    assert _run("detection", ref, got).passed


def test_box_coordinates_take_their_box_scale():
    """A thin box's coordinate near 0 drifts with the box's magnitude (a corner is center -/+ a
    half-size): Mask R-CNN's RPN x2 = 0.0994 from operands near 1132 differed by 1.2e-3 between
    runtimes. Held to atol + rtol * (the box's largest |coordinate|) it matches; moved by 1% of
    its width it still fails."""
    from pipeline.measure.detection import box_scale

    ids, scores = np.array([[[1.], [-1.]]]), np.array([[[0.5], [-1.]]])
    ref = [ids, scores, np.array([[[0.0994, 0.0, 237.4, 1.0], [-1., -1., -1., -1.]]])]
    got = [a.copy() for a in ref]
    got[2][0, 0, 3] += 0.015  # IoU 0.985, 1.5% of that coordinate, 6e-5 of the box's scale
    assert _run("detection", ref, got).passed
    got[2][0, 0, 3] -= 0.015
    got[2][0, 0, [0, 2]] += 2.37  # 1% of its width
    assert not _run("detection", ref, got).passed
    rows = np.array([[0.5, 0.0994, 3.0, 237.4, 1.0]])  # (score, box) as the RPN's NMS reads them
    assert box_scale(rows, 1).tolist() == [[0.5, 237.4, 237.4, 237.4, 237.4]]
    from pipeline.measure.compare import compare

    moved = rows.copy()
    moved[0, 1] += 1.2e-3
    assert not compare([rows], [moved], atol=1e-4, rtol=1e-3).passed
    assert compare([rows], [moved], atol=1e-4, rtol=1e-3, scale=[box_scale(rows, 1)]).passed
    moved[0, 0] += 1e-3  # the score is held to its own magnitude
    assert not compare([rows], [moved], atol=1e-4, rtol=1e-3, scale=[box_scale(rows, 1)]).passed


def _tied_nms():
    """Mask R-CNN's class-7 ROIs, all scored exactly 0.0648288: A and C overlap (IoU 0.57), so NMS
    keeps one of them, B overlaps neither enough."""
    a, b, c = [27.3, -0.13, 284.8, 3.07], [27.3, -0.42, 284.8, 10.11], [27.3, -0.07, 284.8, 1.73]
    score = 0.0648288
    candidates = np.array([[7, score, *a], [7, score, *b], [7, score, *c], [2, 0.5, 0, 0, 10, 10]])
    ref = [np.array([[[7.], [7.], [-1.]]]), np.array([[[score], [score], [-1.]]]), np.array([[a, b, [-1.] * 4]])]
    got = [np.array([[[7.], [7.], [-1.]]]), np.array([[[score], [score], [-1.]]]), np.array([[b, c, [-1.] * 4]])]
    return ref, got, candidates


def test_a_tie_nms_broke_another_way_is_excused_only_with_the_nms_candidates():
    ref, got, candidates = _tied_nms()
    opts = {**OPTS, "nms_candidates": (candidates, candidates.copy(), 0.5)}
    assert not _run("detection", ref, got).passed  # the outputs alone cannot tell it from a moved box
    result = modes.MODES.get("detection")(ref, got, atol=1e-4, rtol=1e-3, top_k=5, options=opts)
    assert result.passed and result.metrics()["nms_tie_swaps"] == 2
    assert result.metrics()["matched_fraction"] == 0.5  # B on both sides; A and C are the swap


def test_a_box_the_reference_never_had_as_a_candidate_still_fails():
    ref, got, candidates = _tied_nms()
    got[2][0, 1, 3] = 1.2  # the deployed side kept a box no reference candidate has
    moved = candidates.copy()
    moved[2, 5] = 1.2
    opts = {**OPTS, "nms_candidates": (candidates, moved, 0.5)}
    result = modes.MODES.get("detection")(ref, got, atol=1e-4, rtol=1e-3, top_k=5, options=opts)
    assert not result.passed and "has no counterpart" in result.reason


def test_a_swap_between_scores_apart_by_more_than_score_tol_fails():
    ref, got, candidates = _tied_nms()
    got[1][0, 1] += 2e-3
    moved = candidates.copy()
    moved[2, 1] += 2e-3
    opts = {**OPTS, "nms_candidates": (candidates, moved, 0.5)}
    assert not modes.MODES.get("detection")(ref, got, atol=1e-4, rtol=1e-3, top_k=5, options=opts).passed


def test_per_detection_outputs_are_compared_row_by_matched_row():
    """Mask R-CNN's fourth output holds a mask per detection row: compared for matched detections,
    whatever the row order; one mask element off fails, an unmatched row's mask is not compared."""
    ref = _detections()
    rng = np.random.default_rng(0)
    masks = rng.uniform(0.1, 0.9, (1, 4, 3, 3))
    ref.append(masks)
    order = [2, 0, 1, 3]
    got = [a[:, order].copy() for a in ref]
    result = _run("detection", ref, got)
    assert result.passed and result.metrics()["outputs_not_compared"] == []
    assert result.metrics()["per_detection_outputs"]["3"]["rows"] == 3
    got[3][0, 1, 1, 1] += 0.01  # row 1 of got is reference row 0
    result = _run("detection", ref, got)
    assert not result.passed and "output 3 of the matched detections" in result.reason
    got[3][0, 1, 1, 1] -= 0.01
    got[3][0, 3] += 1.0  # the padding row (-1) is no detection: not compared
    assert _run("detection", ref, got).passed


def test_a_dropped_detection_is_excused_only_for_a_tied_overlapping_one_the_other_side_kept():
    """X, A, B tied, A overlaps X and B: in the order X, A, B NMS keeps {X, B}; in A, X, B only A."""
    score = 0.2
    x, a, b = [0., 0., 10., 10.], [4., 0., 14., 10.], [8., 0., 18., 10.]  # IoU(X, A) = IoU(A, B) = 0.43
    candidates = np.array([[1, score, *x], [1, score, *a], [1, score, *b]])
    ref = [np.array([[[1.], [1.], [-1.]]]), np.array([[[score], [score], [-1.]]]), np.array([[x, b, [-1.] * 4]])]
    got = [np.array([[[1.], [-1.], [-1.]]]), np.array([[[score], [-1.], [-1.]]]), np.array([[a, [-1.] * 4, [-1.] * 4]])]
    run = lambda thresh: modes.MODES.get("detection")(  # noqa: E731
        ref, got, atol=1e-4, rtol=1e-3, top_k=5, options={**OPTS, "nms_candidates": (candidates, candidates, thresh)})
    assert run(0.4).passed and run(0.4).metrics()["nms_tie_swaps"] == 3
    assert not run(0.5).passed  # at IoU 0.43 an NMS at 0.5 suppresses nothing: a real difference


def _cascade(c_score=0.4):
    """A and B tie (0.5) and overlap; C (0.4) overlaps B only. NMS in the order A, B keeps {A, C};
    in the order B, A it keeps {B}: B suppressed C too, though C ties with nothing."""
    a, b, c = [0., 0., 10., 10.], [3., 0., 13., 10.], [5., 0., 15., 10.]  # IoU(A,B) 0.54, IoU(B,C) 0.67, IoU(A,C) 0.33
    candidates = np.array([[1, 0.5, *a], [1, 0.5, *b], [1, c_score, *c]])
    ref = [np.array([[[1.], [1.], [-1.]]]), np.array([[[0.5], [c_score], [-1.]]]), np.array([[a, c, [-1.] * 4]])]
    got = [np.array([[[1.], [-1.], [-1.]]]), np.array([[[0.5], [-1.], [-1.]]]), np.array([[b, [-1.] * 4, [-1.] * 4]])]
    return ref, got, candidates


def test_a_tie_cascading_down_nms_order_is_excused():
    ref, got, candidates = _cascade()
    result = modes.MODES.get("detection")(ref, got, atol=1e-4, rtol=1e-3, top_k=5,
                                          options={**OPTS, "nms_candidates": (candidates, candidates, 0.5)})
    assert result.passed and result.metrics()["nms_tie_swaps"] == 3  # A and B swapped, C cascaded


def test_a_cascade_needs_the_dropped_box_among_the_other_sides_nms_input():
    ref, got, candidates = _cascade()
    rescored = candidates.copy()
    rescored[2, 1] = 0.3  # the deployed NMS read C at another score: not a tie broken another way
    result = modes.MODES.get("detection")(ref, got, atol=1e-4, rtol=1e-3, top_k=5,
                                          options={**OPTS, "nms_candidates": (candidates, rescored, 0.5)})
    assert not result.passed and "score 0.4" in result.reason
