"""Calibration rows and their split: the guard never sees a calibration row."""
import numpy as np
import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.core.errors import StageError
from pipeline.precision.calibration import CalibrationParams, split_feeds

SPECS = [TensorSpec("data", (2, 3, 4, 4))]


def test_random_rows_are_reproducible_and_holdout_is_disjoint():
    a = split_feeds(SPECS, CalibrationParams(samples=4), None, holdout=6, seed=1)
    b = split_feeds(SPECS, CalibrationParams(samples=4), None, holdout=6, seed=1)
    assert len(a.calibration) == 2 and len(a.holdout) == 3
    assert all(f["data"].shape == (2, 3, 4, 4) for f in a.calibration + a.holdout)
    for x, y in zip(a.calibration + a.holdout, b.calibration + b.holdout):
        np.testing.assert_array_equal(x["data"], y["data"])
    cal = np.concatenate([f["data"] for f in a.calibration])
    held = np.concatenate([f["data"] for f in a.holdout])
    assert not any(np.array_equal(c, h) for c in cal for h in held)


def test_random_rows_do_not_depend_on_how_many_are_drawn():
    few = split_feeds(SPECS, CalibrationParams(samples=2), None, holdout=2, seed=0)
    many = split_feeds(SPECS, CalibrationParams(samples=2), None, holdout=8, seed=0)
    np.testing.assert_array_equal(few.calibration[0]["data"], many.calibration[0]["data"])


def test_npz_rows_split_in_file_order(tmp_path):
    rows = np.arange(8 * 3 * 4 * 4, dtype=np.float32).reshape(8, 3, 4, 4)
    np.savez(tmp_path / "c.npz", data=rows)
    feeds = split_feeds(SPECS, CalibrationParams("npz", str(tmp_path / "c.npz"), 4), tmp_path / "c.npz",
                        holdout=4, seed=0)
    np.testing.assert_array_equal(np.concatenate([f["data"] for f in feeds.calibration]), rows[:4])
    np.testing.assert_array_equal(np.concatenate([f["data"] for f in feeds.holdout]), rows[4:])


def test_images_rows_use_the_guide_preprocessing(tmp_path, write_png):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        write_png(folder / f"{i}.png", np.full((6, 6, 3), 40 * i, dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    feeds = split_feeds([TensorSpec("data", (1, 3, 4, 4))], CalibrationParams("images", str(folder), 2), folder,
                        holdout=2, seed=0)
    assert [float(f["data"].mean()) for f in feeds.calibration + feeds.holdout] == [0.0, 40.0, 80.0, 120.0]


@pytest.mark.parametrize("kind, make, code, fragment", [
    ("npz", lambda p: np.savez(p, data=np.zeros((5, 3, 4, 4), np.float32)), "QNT104", "5 rows"),
    ("npz", lambda p: np.savez(p, other=np.zeros((8, 3, 4, 4), np.float32)), "QNT106", "no array for input 'data'"),
    ("npz", lambda p: np.savez(p, data=np.zeros((8, 3, 5, 5), np.float32)), "QNT106", "rows of shape (3, 5, 5)"),
    ("npz", lambda p: p.write_bytes(b"not a zip"), "QNT105", "cannot read"),
    ("npz", lambda p: None, "QNT105", "not found"),
    ("images", lambda p: None, "QNT105", "folder not found"),
])
def test_bad_sources_are_refused(tmp_path, kind, make, code, fragment):
    path = tmp_path / "c.npz"
    make(path)
    with pytest.raises(StageError) as err:
        split_feeds(SPECS, CalibrationParams(kind, str(path), 4), path, holdout=4, seed=0)
    assert err.value.code == code and fragment in err.value.message


def test_pickled_npz_is_not_loaded(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, data=np.array([{"x": 1}] * 8, dtype=object))
    with pytest.raises(StageError) as err:
        split_feeds(SPECS, CalibrationParams("npz", str(path), 4), path, holdout=4, seed=0)
    assert err.value.code == "QNT105"


def test_counts_must_be_multiples_of_the_batch():
    with pytest.raises(StageError) as err:
        split_feeds(SPECS, CalibrationParams(samples=3), None, holdout=4, seed=0)
    assert err.value.code == "QNT107" and "batch size 2" in err.value.message
