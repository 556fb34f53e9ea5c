"""Input generation for verify (and quantize calibration): the same feed for every runner.

Two kinds. `random` draws seeded numbers per declared input, so a re-run (or another worker
process) feeds bit-identical arrays. `image` is the Elastic Inference guide's preprocessing
exactly: `mx.image.imread` (HWC, RGB, uint8), `mx.image.imresize` to the input's H, W,
HWC -> CHW, batchify, float32, with no mean/std normalisation (the guide's ResNet
checkpoints normalise inside the graph), so a verify on an image measures what the guide's
scripts served.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.model.bundle import TensorSpec
from pipeline.core.errors import MxdeployError
from pipeline.core.runtime_errors import first_error_line

InputKind = Literal["random", "image"]
INPUT_KINDS = ("random", "image")


class InputError(MxdeployError):
    """Inputs that cannot be generated as asked (a missing or undecodable image, a bad shape)."""

    code = "INP001"


def make_feed(specs: list[TensorSpec], kind: InputKind, *, seed: int = 0, image: str | Path | None = None,
              batch_index: int = 0) -> dict[str, np.ndarray]:
    """One array per declared input, keyed by name.

    `batch_index` selects another reproducible batch for the same seed (calibration draws
    several); an image feed is the same for every batch index.
    """
    if kind == "random":
        return random_feed(specs, seed, batch_index=batch_index)
    if kind == "image":
        if image is None:
            raise InputError("input 'image' needs an image file", code="INP004",
                             hint="set image: path/to/picture.jpg in the verify stage")
        pixels = read_image(Path(image))
        return {spec.name: image_array(spec, pixels, Path(image)) for spec in specs}
    raise InputError(f"unknown input kind '{kind}'", code="INP005", hint=f"use one of: {', '.join(INPUT_KINDS)}")


def random_feed(specs: list[TensorSpec], seed: int = 0, *, batch_index: int = 0) -> dict[str, np.ndarray]:
    """The one seeded random feed (verify, calibration, tune and the graph passes' guards):
    the same (seed, batch_index) gives bit-identical arrays in every process."""
    rng = np.random.default_rng([int(seed), int(batch_index)])
    return {spec.name: random_array(spec, rng) for spec in specs}


DEFAULT_INTEGER_RANGE = (0, 10)


def random_array(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Values of the input's declared `range` [low, high), whole numbers when `integer` (or an
    integer dtype); without a range, standard normal floats and integers in [0, 10).

    The default integer range stays inside any embedding table or one-hot depth a test model
    could have; a real vocabulary is declared (`range: [0, 30522], integer: true`), because a
    token id past the table is clipped by MXNet and refused by ONNX Runtime.
    """
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=spec.shape).astype(np.bool_)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise InputError(f"input '{spec.name}' has dtype {spec.dtype}, which random inputs do not cover",
                         where=spec.name, code="INP006", hint="declare a float or integer dtype")
    if spec.whole_numbers:
        low, high = spec.range if spec.range is not None else DEFAULT_INTEGER_RANGE
        low, high = int(np.ceil(low)), int(np.ceil(high))
        if high <= low:
            raise InputError(f"input '{spec.name}': range [{spec.range[0]}, {spec.range[1]}) holds no whole "
                             f"number", where=spec.name, code="INP007", hint="widen the range or drop integer")
        return rng.integers(low, high, size=spec.shape, dtype=np.int64).astype(dtype)
    if spec.range is not None:
        low, high = spec.range
        values = rng.uniform(low, high, size=spec.shape).astype(dtype)
        return np.minimum(values, np.nextafter(dtype.type(high), dtype.type(low)))  # rounding must not reach high
    return rng.standard_normal(spec.shape, dtype=np.float32).astype(dtype)


def row_shape(spec: TensorSpec) -> tuple[int, ...]:
    """One sample's shape: the input's shape without its batch axis."""
    return tuple(d for i, d in enumerate(spec.shape) if i != spec.batch_axis)


def to_rows(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    """An array in the input's layout (rows on its batch axis) as (rows, *row_shape)."""
    return np.moveaxis(np.asarray(array), spec.batch_axis, 0)


def from_rows(spec: TensorSpec, rows: np.ndarray) -> np.ndarray:
    """(rows, *row_shape) back to the input's layout: a (seq, batch) input gets its rows on axis 1."""
    return np.ascontiguousarray(np.moveaxis(rows, 0, spec.batch_axis))


def read_image(path: Path):
    """The image as MXNet's imread returns it: an HWC uint8 RGB NDArray."""
    import mxnet as mx

    if not path.is_file():
        raise InputError("image file not found", where=str(path), code="INP001",
                         hint="give a path relative to the pipelines file, or an absolute one")
    try:
        return mx.image.imread(str(path))
    except mx.MXNetError as exc:
        raise InputError(f"cannot decode the image ({first_error_line(exc)})", where=str(path), code="INP002",
                         hint="give a JPEG or PNG file") from None


def image_array(spec: TensorSpec, pixels, path: Path) -> np.ndarray:
    """Resize to the input's H, W, channel first, repeated to its batch: the guide's preprocessing."""
    import mxnet as mx

    shape = tuple(spec.shape)
    if len(shape) != 4 or shape[1] != 3:
        raise InputError(f"input '{spec.name}' has shape {shape}; an image feeds only an NCHW input with "
                         f"3 channels", where=spec.name, code="INP003",
                         hint="use input: random for this model, or declare the input as [N, 3, H, W]")
    batch, _, height, width = shape
    img = mx.image.imresize(pixels, width, height)  # imresize takes (w, h)
    img = img.transpose((2, 0, 1)).expand_dims(axis=0).astype("float32").asnumpy()
    return np.repeat(img, batch, axis=0).astype(np.dtype(spec.dtype))



def read_npz(path: Path, *, what: str, code: str, layout_hint: str) -> dict[str, np.ndarray]:
    """Every array of an .npz data file, never unpickling (`allow_pickle=False`).

    `what` names the file in messages ("calibration file", "dataset file"); a missing or unreadable
    file is a StageError with the caller's `code`; `layout_hint` says how to write a good one.
    """
    from pipeline.core.errors import StageError

    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise StageError(f"{what} not found", where=str(path), code=code,
                         hint="give an .npz path relative to the pipelines file") from None
    except (ValueError, OSError) as exc:
        raise StageError(f"cannot read the {what} as .npz ({exc})", where=str(path), code=code,
                         hint=layout_hint) from None
