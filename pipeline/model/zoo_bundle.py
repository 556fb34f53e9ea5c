"""Random-weight model zoo bundles at a chosen input size, for the graph tests and bench/.

Built by `pipeline.model.resolve.zoo_block` (random weights, nothing downloaded, fresh name
counters so node names are the same in every call), given the zoo's calibrated init at this
shape, and exported at it, which lets tests run zoo models at small spatial sizes.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from pipeline.model.bundle import ModelBundle, TensorSpec, graph_mxnet_version
from pipeline.model import zoos
from pipeline.model.resolve import export_block, zoo_block


def zoo_bundle(name: str, shape: tuple[int, ...] = (1, 3, 224, 224), *, seed: int = 0,
               randomize_stats: bool = True) -> ModelBundle:
    """A zoo model as a bundle with one input `data` of `shape`.

    `randomize_stats` replaces BatchNorm's initial statistics (mean 0, var 1, gamma 1, beta 0,
    which would make BatchNorm nearly an identity) with random ones, so a BatchNorm pass
    that mishandles any of them is caught by the output comparison.
    """
    import numpy as np

    inputs = [TensorSpec("data", tuple(shape))]
    block = zoo_block(name, seed=seed)
    zoos.find_zoo(name).calibrate(name, block, inputs, seed)  # O(1) outputs: tolerances mean something
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_block(block, inputs, Path(tmp))
    if randomize_stats:
        rng = np.random.default_rng(seed)
        for store in (bundle.arg_params, bundle.aux_params):
            for key, value in store.items():
                if key.endswith(("_gamma", "_running_var", "_moving_var")):
                    store[key] = rng.uniform(0.5, 1.5, value.shape).astype(value.dtype)
                elif key.endswith(("_beta", "_running_mean", "_moving_mean")):
                    store[key] = rng.uniform(-0.2, 0.2, value.shape).astype(value.dtype)
    bundle.metadata.update({"source": {"kind": "gluon", "model": name},
                            "mxnet_version": graph_mxnet_version(bundle.symbol_json)})
    return bundle
