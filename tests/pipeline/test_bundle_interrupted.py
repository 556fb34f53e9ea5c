"""A bundle rewritten in place and interrupted leaves no bundle, never an old manifest."""
from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.core.errors import BundleError


def _bundle(scale: float) -> ModelBundle:
    sym = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
    args = {"fc_weight": np.full((2, 3), scale, "float32"), "fc_bias": np.zeros(2, "float32")}
    return ModelBundle.from_symbol(sym, args, {}, [TensorSpec("data", (1, 3))])


def test_interrupted_resave_leaves_no_manifest(tmp_path, monkeypatch):
    _bundle(1.0).save(tmp_path)
    real_save = mx.nd.save

    def dying_save(path, arrays):
        real_save(path, arrays)
        raise KeyboardInterrupt  # Ctrl-C after the params, before the manifest

    monkeypatch.setattr(mx.nd, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        _bundle(2.0).save(tmp_path)
    monkeypatch.setattr(mx.nd, "save", real_save)
    with pytest.raises(BundleError) as info:
        ModelBundle.load(tmp_path)
    assert info.value.code == "BND001"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
