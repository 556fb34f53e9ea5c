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
        rng = np.random.default_rng([int(seed), int(batch_index)])
        return {spec.name: random_array(spec, rng) for spec in specs}
    if kind == "image":
        if image is None:
            raise InputError("input 'image' needs an image file", code="INP004",
                             hint="set image: path/to/picture.jpg in the verify stage")
        pixels = read_image(Path(image))
        return {spec.name: image_array(spec, pixels, Path(image)) for spec in specs}
    raise InputError(f"unknown input kind '{kind}'", code="INP005", hint=f"use one of: {', '.join(INPUT_KINDS)}")


def random_array(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Standard normal for float inputs; small non-negative integers for integer inputs.

    Integer inputs are nearly always indices (token ids, class ids), so values in [0, 10)
    stay inside any embedding table or one-hot depth a test model could have.
    """
    dtype = np.dtype(spec.dtype)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(spec.shape, dtype=np.float32).astype(dtype)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 10, size=spec.shape, dtype=dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=spec.shape).astype(np.bool_)
    raise InputError(f"input '{spec.name}' has dtype {spec.dtype}, which random inputs do not cover",
                     where=spec.name, code="INP006", hint="declare a float or integer dtype")


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
