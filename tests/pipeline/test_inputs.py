"""make_feed: seeded random inputs per dtype, and the guide's image preprocessing."""
import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.measure.inputs import InputError, make_feed
from pipeline.measure.png import write_png


def test_random_feed_is_seeded_and_typed():
    specs = [TensorSpec("data", (2, 3, 4, 4)), TensorSpec("ids", (2, 5), "int64"), TensorSpec("h", (3,), "float16")]
    a = make_feed(specs, "random", seed=7)
    b = make_feed(specs, "random", seed=7)
    assert list(a) == ["data", "ids", "h"]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert a["data"].dtype == np.float32 and a["data"].shape == (2, 3, 4, 4)
    assert a["ids"].dtype == np.int64 and a["ids"].min() >= 0 and a["ids"].max() < 10
    assert a["h"].dtype == np.float16
    assert abs(float(a["data"].std()) - 1.0) < 0.5
    other_seed = make_feed(specs, "random", seed=8)
    other_batch = make_feed(specs, "random", seed=7, batch_index=1)
    assert not np.array_equal(a["data"], other_seed["data"])
    assert not np.array_equal(a["data"], other_batch["data"])


def test_image_feed_is_the_guides_preprocessing(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    path = tmp_path / "cat.png"
    write_png(path, pixels)
    feed = make_feed([TensorSpec("data", (2, 3, 32, 24))], "image", seed=0, image=path)
    # the guide: imread, imresize(w, h), transpose to CHW, expand_dims, float32
    img = mx.image.imresize(mx.image.imread(str(path)), 24, 32).transpose((2, 0, 1)).expand_dims(axis=0)
    expected = img.astype("float32").asnumpy()
    assert feed["data"].shape == (2, 3, 32, 24) and feed["data"].dtype == np.float32
    np.testing.assert_array_equal(feed["data"][0:1], expected)
    np.testing.assert_array_equal(feed["data"][1:2], expected)


def test_image_at_its_own_size_keeps_the_pixels(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    write_png(tmp_path / "x.png", pixels)
    feed = make_feed([TensorSpec("data", (1, 3, 8, 6))], "image", image=tmp_path / "x.png")
    np.testing.assert_array_equal(feed["data"][0], pixels.transpose(2, 0, 1).astype(np.float32))


@pytest.mark.parametrize("case, code", [("missing", "INP001"), ("garbage", "INP002"), ("shape", "INP003"),
                                        ("none", "INP004")])
def test_image_errors_are_coded(tmp_path, case, code):
    good = tmp_path / "ok.png"
    write_png(good, np.zeros((4, 4, 3), dtype=np.uint8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    spec = TensorSpec("data", (1, 3, 4, 4))
    args = {"missing": (spec, tmp_path / "nope.png"), "garbage": (spec, bad),
            "shape": (TensorSpec("data", (1, 4, 4, 3)), good), "none": (spec, None)}[case]
    with pytest.raises(InputError) as info:
        make_feed([args[0]], "image", image=args[1])
    assert info.value.code == code
    assert info.value.hint
    if case == "garbage":
        assert "Decoding failed" in info.value.message and info.value.where == str(bad)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

specs_strategy = st.lists(
    st.builds(TensorSpec, st.sampled_from(["a", "b", "c", "d"]),
              st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple),
              st.sampled_from(["float32", "float64", "float16", "int32", "int64", "uint8", "int8"])),
    min_size=1, max_size=3, unique_by=lambda s: s.name)


@settings(max_examples=50, deadline=None)
@given(specs_strategy, st.integers(0, 2**31 - 1), st.integers(0, 100))
def test_random_feed_matches_its_specs_and_reproduces(specs, seed, batch_index):
    feed = make_feed(specs, "random", seed=seed, batch_index=batch_index)
    again = make_feed(specs, "random", seed=seed, batch_index=batch_index)
    assert list(feed) == [s.name for s in specs]
    for spec in specs:
        assert feed[spec.name].shape == spec.shape and feed[spec.name].dtype == np.dtype(spec.dtype)
        assert np.isfinite(feed[spec.name].astype(np.float64)).all()
        np.testing.assert_array_equal(feed[spec.name], again[spec.name])


def test_random_feed_honours_range_integer_and_dtype():
    from pipeline.measure.inputs import random_feed

    specs = [TensorSpec("ids", (2, 64), "float32", range=(0, 30522), integer=True),
             TensorSpec("types", (2, 64), "float32", range=(0, 2), integer=True),
             TensorSpec("length", (2,), "int32", range=(1, 17)),
             TensorSpec("x", (4, 100), "float16", range=(-0.5, 0.25))]
    feed = random_feed(specs, seed=3)
    ids, types, length, x = (feed[s.name] for s in specs)
    assert ids.dtype == np.float32 and np.all(ids == np.round(ids)) and 0 <= ids.min() and ids.max() < 30522
    assert ids.max() > 1000  # the whole range is drawn, not [0, 10)
    assert set(np.unique(types)) == {0.0, 1.0}
    assert length.dtype == np.int32 and 1 <= length.min() and length.max() < 17
    assert x.dtype == np.float16 and -0.5 <= x.min() and x.max() < 0.25
    np.testing.assert_array_equal(random_feed(specs, seed=3)["ids"], ids)


def test_one_generator_for_verify_calibration_and_the_graph_guards():
    """graph.random_feed is the measure generator; calibration rows draw from the same ranges."""
    from pipeline import graph
    from pipeline.measure import inputs
    from pipeline.precision.calibration import CalibrationParams, split_feeds

    assert graph.random_feed is inputs.random_feed
    spec = TensorSpec("tokens", (5, 2), "float32", range=(3, 7), integer=True, batch_axis=1)
    feeds = split_feeds([spec], CalibrationParams(samples=4), None, holdout=2, seed=0)
    batches = feeds.calibration + feeds.holdout
    assert len(batches) == 3 and all(f["tokens"].shape == (5, 2) for f in batches)
    values = np.concatenate([f["tokens"] for f in batches], axis=1)
    assert set(np.unique(values)) <= {3.0, 4.0, 5.0, 6.0}


def test_calibration_npz_rows_sit_on_the_batch_axis(tmp_path):
    """An .npz for a (seq, batch) input holds (seq, rows); feeds are consecutive rows on axis 1."""
    from pipeline.precision.calibration import CalibrationParams, split_feeds

    spec = TensorSpec("tokens", (3, 2), batch_axis=1)
    rows = np.arange(3 * 6, dtype=np.float32).reshape(3, 6)  # 6 rows, one per column
    np.savez(tmp_path / "c.npz", tokens=rows)
    feeds = split_feeds([spec], CalibrationParams(input="npz", samples=4), tmp_path / "c.npz", holdout=2, seed=0)
    np.testing.assert_array_equal(feeds.calibration[1]["tokens"], rows[:, 2:4])
    np.testing.assert_array_equal(feeds.holdout[0]["tokens"], rows[:, 4:6])
