"""Accuracy on a labelled dataset, for verify's `dataset` option: the deployed model vs the reference.

Random inputs show how far a quantized model's numbers move; they cannot show whether it still
answers correctly. A labelled set can: verify runs both the reference (fp32) and the deployed
session over every row and reports `accuracy`, `reference_accuracy` and `accuracy_drop`
(in fractions; 0.01 is one point). The file is an .npz with one array per declared input in
the input's own layout with the rows on its batch axis (`batch_axis`, 0 unless declared), and
`label` (rows,) of class indices, needed only for accuracy (`input: dataset` alone feeds the
first rows); rows are fed in the declared batch, the last batch padded by repeating its rows
(the padded predictions are dropped). Loaded with allow_pickle=False: a data file is never unpickled.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.model.bundle import TensorSpec
from pipeline.core.diagnostics import Diagnostic
from pipeline.core.errors import StageError
from pipeline.measure.inputs import from_rows, read_npz, row_shape, to_rows

LABEL = "label"


@dataclass(frozen=True)
class Dataset:
    rows: dict[str, np.ndarray]  # input name -> (rows, *row shape)
    labels: np.ndarray | None  # None: the file has no 'label' (no accuracy)
    specs: tuple[TensorSpec, ...] = ()

    @property
    def count(self) -> int:
        return len(next(iter(self.rows.values()))) if self.rows else 0

    def feed(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Rows `idx` as one feed, each on its input's batch axis."""
        return {s.name: from_rows(s, self.rows[s.name][idx]) for s in self.specs}


def load_dataset(path: Path, specs: list[TensorSpec], *, need_labels: bool = False) -> Dataset:
    arrays = read_npz(path, what="dataset file", code="VER106",
                      layout_hint="write it with numpy.savez: one array per input (and 'label' for accuracy)")
    missing = [n for n in [s.name for s in specs] + ([LABEL] if need_labels else []) if n not in arrays]
    if missing:
        raise StageError(f"the dataset has no array for {', '.join(missing)} (it has: {', '.join(sorted(arrays))})",
                         where=str(path), code="VER106",
                         hint="save one array per declared input, and 'label' when accuracy is asked for")
    labels = arrays[LABEL].reshape(-1).astype(np.int64) if LABEL in arrays else None
    rows = {}
    for spec in specs:
        array = arrays[spec.name]
        count = len(labels) if labels is not None else None
        rows[spec.name] = to_rows(spec, array) if array.ndim == len(spec.shape) else array
        if tuple(rows[spec.name].shape[1:]) != row_shape(spec) or (count is not None and len(rows[spec.name]) != count):
            raise StageError(f"array '{spec.name}' has shape {array.shape}; expected the input's shape "
                             f"{tuple(spec.shape)} with {count if count is not None else 'the'} rows on axis "
                             f"{spec.batch_axis}", where=str(path), code="VER106",
                             hint="shape each input array as its input, rows on its batch axis")
    if len({len(r) for r in rows.values()}) > 1:
        raise StageError("the dataset's input arrays hold different numbers of rows", where=str(path),
                         code="VER106", hint="save the same rows for every input")
    return Dataset({s.name: rows[s.name].astype(np.dtype(s.dtype)) for s in specs}, labels, tuple(specs))


def first_batch(dataset: Dataset, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
    """The dataset's first rows as one feed of the declared batch (verify's `input: dataset`)."""
    batch = specs[0].batch
    return dataset.feed(np.arange(batch) % dataset.count)


def predictions(run, dataset: Dataset, batch: int) -> np.ndarray:
    """argmax of output 0 for every row, fed through `run(feed) -> outputs` in batches."""
    count = dataset.count
    out = []
    for start in range(0, count, batch):
        idx = np.arange(start, start + batch) % count if start + batch > count else np.arange(start, start + batch)
        scores = np.asarray(run(dataset.feed(idx))[0])
        out.append(scores.reshape(batch, -1).argmax(axis=1)[: min(batch, count - start)])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def accuracy_metrics(reference_pred: np.ndarray, deployed_pred: np.ndarray, labels: np.ndarray) -> dict:
    """Pure: accuracy of each, the drop, and how often the two predict the same class."""
    ref = float(np.mean(reference_pred == labels))
    got = float(np.mean(deployed_pred == labels))
    return {"accuracy": round(got, 6), "reference_accuracy": round(ref, 6), "accuracy_drop": round(ref - got, 6),
            "prediction_agreement": round(float(np.mean(reference_pred == deployed_pred)), 6),
            "dataset_rows": int(len(labels))}


def accuracy_drop_diagnostic(metrics: dict, max_drop: float) -> Diagnostic | None:
    """VER107 when the deployed model is more than `max_drop` less accurate than the reference."""
    if metrics["accuracy_drop"] <= max_drop:
        return None
    return Diagnostic("VER107", "error",
                      f"deployed accuracy {metrics['accuracy']:.4f} is {metrics['accuracy_drop'] * 100:.2f} points "
                      f"below the reference's {metrics['reference_accuracy']:.4f} on {metrics['dataset_rows']} rows "
                      f"(max_accuracy_drop {max_drop:g})",
                      hint="recalibrate the quantization on data like the dataset, or keep sensitive nodes in fp32")
