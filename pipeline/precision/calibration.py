"""Calibration and hold-out feeds: rows from one source, split so the guard never sees a
calibration row.

A source yields *rows* (one sample: an input's shape without its batch axis, `batch_axis`);
feeds are consecutive rows grouped into the declared batch, on that axis. The first `samples` rows calibrate, the
next `holdout` rows check the result:

- `random`: row k is drawn from a generator seeded with (seed, k), so calibration and
  hold-out rows are different draws of the same distribution, identical on every re-run;
- `npz`: one array per declared input in the input's own layout, rows on its batch axis
  (`batch_axis`, 0 unless declared: an LSTM's (seq, batch) input holds (seq, rows));
- `images`: the image files of a folder in name order, each preprocessed as verify's
  `input: image` does (the Elastic Inference guide's preprocessing).

A source with fewer rows than samples + holdout is refused (QNT104): reusing calibration rows
for the guard would prove nothing about inputs the calibration did not see.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

import numpy as np

from pipeline.model.bundle import TensorSpec
from pipeline.core.errors import StageError
from pipeline.measure.inputs import from_rows, image_array, random_array, read_image, read_npz, row_shape, to_rows
from pipeline.core.paramspec import param
from pipeline.core.registry import Registry

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class CalibrationParams:
    input: Literal["random", "npz", "images"] = param("random", "where calibration rows come from")
    path: Optional[str] = param(None, "the .npz file (input: npz) or image folder (input: images)",
                                path="file_or_dir")
    samples: int = param(32, "calibration rows (a multiple of the batch size)")


Rows = dict[str, np.ndarray]  # input name -> (rows, *shape[1:])
RowSource = Callable[[list[TensorSpec], CalibrationParams, Path | None, int, int], Rows]
ROW_SOURCES: Registry[RowSource] = Registry("calibration input")


@ROW_SOURCES.decorator("random")
def random_rows(specs, params, path, count: int, seed: int) -> Rows:
    rows: Rows = {}
    for spec in specs:
        one = spec.with_shape(row_shape(spec))
        rows[spec.name] = np.stack([random_array(one, np.random.default_rng([int(seed), k]))
                                    for k in range(count)])
    return rows


@ROW_SOURCES.decorator("npz")
def npz_rows(specs, params, path, count: int, seed: int) -> Rows:
    arrays = read_npz(path, what="calibration file", code="QNT105",
                      layout_hint="write it with numpy.savez, one array per input name")
    rows: Rows = {}
    for spec in specs:
        if spec.name not in arrays:
            raise StageError(f"the calibration file has no array for input '{spec.name}' "
                             f"(it has: {', '.join(sorted(arrays)) or 'none'})", where=str(path), code="QNT106",
                             hint="save one array per declared input, named after it")
        array = to_rows(spec, arrays[spec.name]) if arrays[spec.name].ndim == len(spec.shape) else arrays[spec.name]
        if tuple(array.shape[1:]) != row_shape(spec):
            raise StageError(f"array '{spec.name}' has rows of shape {tuple(array.shape[1:])}, the input takes "
                             f"{row_shape(spec)}", where=str(path), code="QNT106",
                             hint=f"shape each array as its input, with the rows on its batch axis "
                                  f"({spec.batch_axis})")
        rows[spec.name] = array[:count].astype(np.dtype(spec.dtype))
    return rows


@ROW_SOURCES.decorator("images")
def image_rows(specs, params, path, count: int, seed: int) -> Rows:
    if path is None or not path.is_dir():
        raise StageError("calibration image folder not found", where=str(path), code="QNT105",
                         hint="give a folder of JPEG or PNG files, relative to the pipelines file")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:count]
    rows: Rows = {}
    for spec in specs:
        one = TensorSpec(spec.name, (1, *spec.shape[1:]), spec.dtype)
        rows[spec.name] = np.concatenate([image_array(one, read_image(f), f) for f in files]) if files else \
            np.zeros((0, *spec.shape[1:]), dtype=np.dtype(spec.dtype))
    return rows


@dataclass(frozen=True)
class Feeds:
    calibration: list[dict[str, np.ndarray]]
    holdout: list[dict[str, np.ndarray]]


def split_feeds(specs: list[TensorSpec], params: CalibrationParams, path: Path | None, *, holdout: int,
                seed: int) -> Feeds:
    """Calibration feeds from the first `samples` rows, hold-out feeds from the next `holdout`."""
    batch = batch_size(specs)
    for name, count in (("calibration.samples", params.samples), ("holdout", holdout)):
        if count % batch:
            raise StageError(f"{name} is {count}, not a multiple of the batch size {batch}", where=name,
                             code="QNT107", hint=f"use a multiple of {batch}")
    need = params.samples + holdout
    rows = ROW_SOURCES.get(params.input)(specs, params, path, need, seed)
    have = min((len(a) for a in rows.values()), default=0)
    if have < need:
        raise StageError(f"the calibration source has {have} rows; {params.samples} calibration + {holdout} "
                         f"held-out rows are needed", where=str(path or params.input), code="QNT104",
                         hint="add rows, or lower calibration.samples or holdout (the guard never reuses a "
                              "calibration row)")
    by_name = {spec.name: spec for spec in specs}
    feeds = [{name: from_rows(by_name[name], array[i:i + batch]) for name, array in rows.items()}
             for i in range(0, need, batch)]
    cut = params.samples // batch
    return Feeds(calibration=feeds[:cut], holdout=feeds[cut:])


def batch_size(specs: list[TensorSpec]) -> int:
    sizes = {spec.batch for spec in specs if spec.shape}
    if len(sizes) != 1:
        raise StageError(f"inputs disagree on the batch size ({sorted(sizes)})", code="QNT107",
                         hint="declare each input's batch_axis (0 unless given), so they share the batch")
    return sizes.pop()
