"""verify's dataset accuracy: loading, batching with padding, metrics and the drop diagnostic."""
import numpy as np
import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.core.errors import StageError
from pipeline.core.paramspec import build_params
from stages.verify import Verify, VerifyParams
from pipeline.measure.accuracy import (accuracy_drop_diagnostic, accuracy_metrics, first_batch, load_dataset,
                                      predictions)

SPECS = [TensorSpec("data", (4, 3))]


def _write(tmp_path, rows=10, **override):
    arrays = {"data": np.arange(rows * 3, dtype=np.float32).reshape(rows, 3), "label": np.arange(rows) % 3}
    arrays.update(override)
    np.savez(tmp_path / "d.npz", **arrays)
    return tmp_path / "d.npz"


def test_predictions_cover_every_row_once_with_a_padded_last_batch(tmp_path):
    data = load_dataset(_write(tmp_path), SPECS)
    seen = []

    def run(feed):
        assert feed["data"].shape == (4, 3)
        seen.append(feed["data"][:, 0].copy())
        scores = np.zeros((4, 3))
        scores[np.arange(4), (feed["data"][:, 0] / 3).astype(int) % 3] = 1.0
        return [scores]

    pred = predictions(run, data, 4)
    np.testing.assert_array_equal(pred, np.arange(10) % 3)
    assert len(seen) == 3 and list(seen[-1]) == [24.0, 27.0, 0.0, 3.0]  # padded by wrapping around


def test_accuracy_metrics():
    labels = np.array([0, 1, 2, 3])
    m = accuracy_metrics(np.array([0, 1, 2, 0]), np.array([0, 1, 0, 0]), labels)
    assert m == {"accuracy": 0.5, "reference_accuracy": 0.75, "accuracy_drop": 0.25,
                 "prediction_agreement": 0.75, "dataset_rows": 4}


def test_drop_diagnostic_only_beyond_the_allowed_drop():
    m = {"accuracy": 0.97, "reference_accuracy": 0.985, "accuracy_drop": 0.015, "dataset_rows": 360}
    assert accuracy_drop_diagnostic(m, 0.02) is None
    d = accuracy_drop_diagnostic(m, 0.01)
    assert d.code == "VER107" and d.severity == "error"
    assert "1.50 points below the reference's 0.9850 on 360 rows (max_accuracy_drop 0.01)" in d.message


def test_first_batch_is_the_first_rows(tmp_path):
    data = load_dataset(_write(tmp_path), SPECS)
    np.testing.assert_array_equal(first_batch(data, SPECS)["data"], data.rows["data"][:4])


@pytest.mark.parametrize("override, fragment", [
    ({"label": None}, "no array for label"),
    ({"data": np.zeros((10, 4), np.float32)}, "with 10 rows on axis 0"),
    ({"data": np.zeros((9, 3), np.float32)}, "with 10 rows on axis 0"),
])
def test_bad_datasets_are_refused(tmp_path, override, fragment):
    arrays = {k: v for k, v in override.items() if v is not None}
    path = _write(tmp_path, **arrays)
    if "label" in override:
        np.savez(path, data=np.zeros((10, 3), np.float32))
    with pytest.raises(StageError) as err:
        load_dataset(path, SPECS, need_labels=True)
    assert err.value.code == "VER106" and fragment in err.value.message


def test_a_dataset_needs_no_label_unless_accuracy_is_asked_for(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, data=np.arange(30, dtype=np.float32).reshape(10, 3))
    data = load_dataset(path, SPECS)
    assert data.labels is None and data.count == 10
    np.testing.assert_array_equal(first_batch(data, SPECS)["data"], np.arange(12).reshape(4, 3))


def test_rows_are_taken_on_the_declared_batch_axis(tmp_path):
    """An LSTM's (seq, batch) input: the file holds (seq, rows), feeds are (seq, batch)."""
    specs = [TensorSpec("tokens", (5, 2), batch_axis=1), TensorSpec("length", (2,), "int32")]
    tokens = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)  # 3 rows, one per column
    path = tmp_path / "d.npz"
    np.savez(path, tokens=tokens, length=np.array([5, 4, 3]))
    data = load_dataset(path, specs)
    feed = data.feed(np.array([2, 0]))
    np.testing.assert_array_equal(feed["tokens"], tokens[:, [2, 0]])
    np.testing.assert_array_equal(feed["length"], [3, 5])
    np.savez(path, tokens=tokens.T, length=np.array([5, 4, 3]))  # rows first: the wrong layout
    with pytest.raises(StageError, match="rows on axis 1"):
        load_dataset(path, specs)


def test_params_need_a_dataset():
    for values, path in (({"input": "dataset"}, ("dataset",)), ({"max_accuracy_drop": 0.01}, ("max_accuracy_drop",))):
        params, _ = build_params(VerifyParams, values)
        assert [i.path for i in Verify.check_params(params)] == [path]
