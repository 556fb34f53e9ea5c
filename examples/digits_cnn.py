"""A small Gluon CNN trained on scikit-learn's digits: the accuracy example for quantization.

`trained_cnn()` is a `gluon: {factory: ...}` factory: it trains the network when called
(seeded, about two seconds on two cores), so there is no weights file to ship or trust and
the pipeline's gluon source and its reference rebuild the same network. The data ships inside
scikit-learn (`sklearn.datasets.load_digits`, 1,797 8x8 images of 0..16), split once with a
fixed seed into train and test.

`python examples/digits_cnn.py` writes the two data files the pipelines read (atomically;
the same bytes for the same seed):

- `digits-calibration.npz`: `data` of shape (512, 1, 8, 8) from the *training* split: the
  quantize stage calibrates on its first rows and holds out the rest for its guard;
- `digits-test.npz`: `data` (360, 1, 8, 8) and `label` (360,) from the *test* split, which
  training never saw: verify's `dataset` reports fp32 and deployed accuracy on it.

Pixels are scaled to [0, 1] (divided by 16) before the network sees them.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

SEED = 0
TEST_ROWS = 360
CALIBRATION_ROWS = 512
EPOCHS = 12
BATCH = 32


def digits_split(seed: int = SEED):
    """(train_x, train_y, test_x, test_y): images as (N, 1, 8, 8) float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:TEST_ROWS], order[TEST_ROWS:]
    return x[train], y[train], x[test], y[test]


def build_cnn():
    from mxnet.gluon import nn

    net = nn.HybridSequential(prefix="digitscnn_")
    with net.name_scope():
        net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation="relu"),
                nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
                nn.MaxPool2D(pool_size=2),
                nn.Flatten(),
                nn.Dense(64, activation="relu"),
                nn.Dense(10))
    return net


def trained_cnn(epochs: int = EPOCHS, seed: int = SEED):
    """The CNN, trained on the training split (deterministic for a seed)."""
    import mxnet as mx
    from mxnet import autograd, gluon

    mx.random.seed(seed)
    rng = np.random.default_rng(seed)
    train_x, train_y, _, _ = digits_split()
    net = build_cnn()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 2e-3})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(epochs):
        order = rng.permutation(len(train_x))
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            data, label = mx.nd.array(train_x[idx]), mx.nd.array(train_y[idx])
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(len(idx))
    return net


def _write_npz(path: Path, **arrays) -> None:
    """numpy.savez into memory, then temp file + rename (pipeline.core.atomic's rule, without importing it)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buffer.getvalue())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_data(folder: Path) -> tuple[Path, Path]:
    train_x, _, test_x, test_y = digits_split()
    calibration, test = folder / "digits-calibration.npz", folder / "digits-test.npz"
    _write_npz(calibration, data=train_x[:CALIBRATION_ROWS])
    _write_npz(test, data=test_x, label=test_y)
    return calibration, test


if __name__ == "__main__":
    for written in write_data(Path(__file__).resolve().parent):
        print(f"wrote {written}", file=sys.stdout)
