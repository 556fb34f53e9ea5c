"""Train the small digits MLP checkpoint that pipelines.yaml deploys (examples/digits-mlp-*).

The data is scikit-learn's bundled 8x8 digits (installed with the package, nothing is
downloaded). The graph ends in SoftmaxOutput with its `softmax_label`, exactly as a training
script saves it, so the deploy path that binds the label to zeros is exercised by a real
checkpoint. Pixel scaling (0..16 -> 0..1) is inside the graph: the checkpoint takes raw
pixels. Deterministic for a seed; files are written atomically (temp file + rename).

    python examples/train_digits_mlp.py [--out examples/digits-mlp] [--epochs 30] [--seed 0]
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits

from pipeline.core import atomic

HIDDEN = 32
CLASSES = 10


def digits_mlp() -> mx.sym.Symbol:
    data = mx.sym.var("data")  # (batch, 64) raw 8x8 pixels, 0..16
    x = data / 16.0
    x = mx.sym.FullyConnected(x, num_hidden=HIDDEN, name="fc1")
    x = mx.sym.Activation(x, act_type="relu", name="relu1")
    x = mx.sym.FullyConnected(x, num_hidden=CLASSES, name="fc2")
    return mx.sym.SoftmaxOutput(x, name="softmax")


def train(epochs: int, seed: int):
    digits = load_digits()
    X = digits.data.astype(np.float32)
    y = digits.target.astype(np.float32)
    order = np.random.RandomState(seed).permutation(len(X))
    X, y = X[order], y[order]
    split = int(0.8 * len(X))
    mx.random.seed(seed)
    np.random.seed(seed)
    train_iter = mx.io.NDArrayIter(X[:split], y[:split], batch_size=32, shuffle=True, label_name="softmax_label")
    val_iter = mx.io.NDArrayIter(X[split:], y[split:], batch_size=32, label_name="softmax_label")
    mod = mx.mod.Module(digits_mlp(), context=mx.cpu(), data_names=["data"], label_names=["softmax_label"])
    mod.fit(train_iter, eval_data=val_iter, num_epoch=epochs, optimizer="adam",
            optimizer_params={"learning_rate": 0.01}, initializer=mx.init.Xavier(), eval_metric="acc")
    accuracy = dict(mod.score(val_iter, "acc"))["accuracy"]
    arg_params, aux_params = mod.get_params()
    return mod.symbol, arg_params, aux_params, accuracy


def save_checkpoint(prefix: Path, symbol, arg_params, aux_params, epoch: int = 0) -> None:
    """mx.model.save_checkpoint's two files, each written to a temp file then renamed."""
    atomic.write_text(Path(f"{prefix}-symbol.json"), symbol.tojson())
    arrays = {f"arg:{k}": v for k, v in arg_params.items()}
    arrays.update({f"aux:{k}": v for k, v in aux_params.items()})
    with atomic.atomic_path(Path(f"{prefix}-{epoch:04d}.params")) as tmp:
        mx.nd.save(str(tmp), arrays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("digits-mlp")), help="checkpoint prefix")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    symbol, arg_params, aux_params, accuracy = train(args.epochs, args.seed)
    save_checkpoint(Path(args.out), symbol, arg_params, aux_params)
    print(f"validation accuracy {accuracy:.3f}; wrote {args.out}-symbol.json and {args.out}-0000.params")


if __name__ == "__main__":
    main()
