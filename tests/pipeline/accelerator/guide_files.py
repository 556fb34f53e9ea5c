"""Local stand-ins for the guide's downloads: zoo checkpoints with random weights, synset, image.

Not a test module (no test_ prefix); the guide tests import it. Checkpoints get the original
ImageNet checkpoints' head, `SoftmaxOutput(name='softmax')` with a `softmax_label` argument,
so the guide's `args['softmax_label'] = ...` and Module's `allow_missing=True` behave as they did.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.measure import png

GLUON_NAMES = {"resnet-50": "resnet50_v1", "resnet-152": "resnet152_v1"}


def write_checkpoint(folder: Path, prefix: str, seed: int = 0) -> None:
    import mxnet as mx

    mx.random.seed(seed)
    net = mx.gluon.model_zoo.vision.get_model(GLUON_NAMES[prefix])
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    net.export(str(folder / "gluon"))
    sym, args, aux = mx.model.load_checkpoint(str(folder / "gluon"), 0)
    sym = mx.sym.SoftmaxOutput(sym, name="softmax")
    mx.model.save_checkpoint(str(folder / prefix), 0, sym, args, aux)
    for leftover in folder.glob("gluon-*"):
        leftover.unlink()


def write_synset(folder: Path) -> None:
    lines = [f"n{10000000 + i:08d} class {i}" for i in range(1000)]
    (folder / "synset.txt").write_text("\n".join(lines) + "\n")


def write_png(path: Path, seed: int = 0, height: int = 300, width: int = 400) -> None:
    """A random RGB image as a minimal PNG (no JPEG encoder is installed; MXNet reads PNG)."""
    pixels = (np.random.RandomState(seed).rand(height, width, 3) * 255).astype(np.uint8)
    png.write_png(path, pixels)
