"""Random weights that behave like trained ones: a data-dependent init for zoo models.

MXNet's default init gives deep zoo networks outputs a trained net never has: BatchNorm
layers left at gamma=1/var=1 (or a Uniform(±0.07) `moving_var`, negative, so NaN) let
activations grow or vanish layer after layer; SSD's decoded boxes overflow to inf through
`exp`, CenterNet's heatmap saturates (135,147 values tied at 1.0) and YOLOv3's scores all sit
at 0.25, so which boxes top-k and NMS keep is arbitrary and no two runtimes agree on it. A
verify of such a model measures nothing (or measures ties).

The init here ("calibrated-v1", recorded in the bundle's metadata with its seed):

1. every parameter drawn from a scaled normal (He: N(0, 2 / fan_in)) unless the model's own
   code set an initializer for it (e.g. SSD's L2Normalization scale);
2. one forward on a seeded random input of the declared shapes (per-layer statistics, so one
   sample suffices; the batch stays as declared, which Faster R-CNN requires), in inference mode and
   un-hybridized, during which
   - each convolution / dense layer, the first time it runs, is rescaled (weight and bias by
     the same factor, so the layer computes exactly `out / s`) so that its output has unit
     root-mean-square (LSUV, Mishkin & Matas 2015);
   - each BatchNorm, just before it runs, gets gamma=1, beta=0, moving mean 0 and, for every
     channel, the moving variance E[x^2] of the whole input it is about to normalize (strictly
     positive; see `_second_moment` for why not per-channel mean and variance).

So every layer sees O(1) activations, heads output O(1) logits (scores spread, boxes finite),
and no layer amplifies float rounding (two float32 runtimes agree to ~1e-5). Only
models built with random weights get it: weights loaded from `params:` or a checkpoint are
never touched.
"""
from __future__ import annotations

import numpy as np

from pipeline.model.bundle import TensorSpec
from pipeline.model.symbol_json import node_attrs

INIT_NAME = "calibrated-v1"
_MIN_VARIANCE = 1e-6  # a layer with no signal (all zeros) keeps var 1: its output is 0 anyway
_CALIBRATION_BATCH = 7  # the random feed's batch_index: not the batch verify feeds (0)


_ONES = ("gamma", "running_var", "moving_var")


def he_normal():
    """He-normal for weights; vectors get their canonical value (gamma/variance 1, else 0).

    Gluon passes the default initializer as the parameter's own init when it has none, so a
    SymbolBlock's BatchNorm gamma reaches `_init_weight` (plain Xavier raises on 1-D arrays).
    """
    import mxnet as mx

    class HeNormal(mx.init.Xavier):
        def _init_weight(self, name, arr):
            if len(arr.shape) < 2:
                arr[:] = 1.0 if str(name).endswith(_ONES) else 0.0
            else:
                super()._init_weight(name, arr)

    return HeNormal(rnd_type="gaussian", factor_type="in", magnitude=2.0)


def calibrate(block, inputs: list[TensorSpec], seed: int) -> dict:
    """Run the calibrating forward on `block` (initialized, not hybridized); returns the record."""
    import mxnet as mx
    from mxnet.gluon import nn

    from pipeline.measure.inputs import make_feed

    # The declared shapes as they are: detectors such as Faster R-CNN only run at their batch size.
    feed = make_feed(inputs, "random", seed=seed, batch_index=_CALIBRATION_BATCH)
    args = [mx.nd.array(feed[s.name], dtype=feed[s.name].dtype) for s in inputs]
    try:
        block(*args)  # finishes deferred initialization, so every parameter has a shape
    except (mx.MXNetError, ValueError) as exc:  # the model's own shape checks, raised while tracing
        from pipeline.core.errors import SourceError
        from pipeline.core.runtime_errors import first_error_line

        shapes = ", ".join(f"{s.name}={tuple(s.shape)}" for s in inputs)
        raise SourceError(f"{type(block).__name__} cannot run on inputs {shapes}: {first_error_line(exc)}",
                          code="SRC107", where=type(block).__name__,
                          hint="declare an input shape the model accepts (docs/gluoncv.md lists the defaults)") from None
    seen: set[int] = set()
    counts = {"scaled": 0, "batchnorm": 0}

    def rescale(layer, _inputs, output):
        if id(layer) in seen or not isinstance(output, mx.nd.NDArray):
            return
        seen.add(id(layer))
        rms = float(mx.nd.sqrt(mx.nd.mean(mx.nd.square(output.astype("float64")))).asscalar())
        if not np.isfinite(rms) or rms <= 0:
            return
        for param in (layer.weight, getattr(layer, "bias", None)):
            if param is not None and param._data is not None:
                param.set_data(param.data() / rms)
        output[:] = output / rms
        counts["scaled"] += 1

    def normalize(layer, layer_inputs):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        x = layer_inputs[0].asnumpy().astype(np.float64)
        axis = int(layer._kwargs.get("axis", 1)) % x.ndim
        reduce = tuple(i for i in range(x.ndim) if i != axis)
        mean, var = np.zeros(x.shape[axis]), _second_moment(x, reduce)
        for param, value in ((layer.gamma, 1.0), (layer.beta, 0.0)):
            param.set_data(mx.nd.full(param.shape, value, dtype=param.dtype))
        layer.running_mean.set_data(mx.nd.array(mean, dtype=layer.running_mean.dtype))
        layer.running_var.set_data(mx.nd.array(var, dtype=layer.running_var.dtype))
        counts["batchnorm"] += 1

    def symbolic(layer, layer_inputs):
        if id(layer) not in seen:
            seen.add(id(layer))
            _calibrate_symbol_block(layer, layer_inputs, counts)

    handles = []
    for child in _walk(block):
        if isinstance(child, mx.gluon.SymbolBlock):
            handles.append(child.register_forward_pre_hook(symbolic))
        elif isinstance(child, nn.BatchNorm):
            handles.append(child.register_forward_pre_hook(normalize))
        elif isinstance(child, (nn.Dense, nn.conv_layers._Conv)):
            handles.append(child.register_forward_hook(rescale))
    try:
        block(*args)
    finally:
        for handle in handles:
            handle.detach()
    return {"init": INIT_NAME, "seed": seed, "layers_scaled": counts["scaled"],
            "batchnorms_calibrated": counts["batchnorm"]}


_SCALED_OPS = ("Convolution", "Deconvolution", "FullyConnected")


def _calibrate_symbol_block(block, layer_inputs, counts: dict) -> None:
    """The same calibration inside a SymbolBlock (its graph is opaque to Gluon hooks).

    Some gluoncv models wrap their backbone in a SymbolBlock (SSD's FeatureExpander), so the
    graph is interpreted here node by node with the imperative operator of the same name, in
    topological order, rescaling convolutions and setting BatchNorm statistics exactly as the
    hooks do; the block's own forward then runs with the calibrated parameters.
    """
    import json

    import mxnet as mx

    graph = json.loads(block._cached_graph[1].tojson())
    params = {p.name: p for p in block.collect_params().values()}
    input_names = [s.name for s in block._cached_graph[0]]
    values: dict[int, list] = {}
    feed = dict(zip(input_names, layer_inputs))
    for index, node in enumerate(graph["nodes"]):
        if node["op"] == "null":
            values[index] = [feed[node["name"]] if node["name"] in feed else params[node["name"]].data()]
            continue
        args = [values[src][out] for src, out, *_ in node["inputs"]]
        names = [graph["nodes"][src]["name"] for src, *_ in node["inputs"]]
        attrs = node_attrs(node)
        if node["op"] == "BatchNorm":
            x = args[0].asnumpy().astype(np.float64)
            axis = int(attrs.get("axis", 1)) % x.ndim
            reduce = tuple(i for i in range(x.ndim) if i != axis)
            var = _second_moment(x, reduce)
            stats = (np.ones_like(var), np.zeros_like(var), np.zeros_like(var), var)
            for name, value in zip(names[1:5], stats):
                params[name].set_data(mx.nd.array(value, dtype=params[name].dtype))
            args[1:5] = [params[name].data() for name in names[1:5]]
            counts["batchnorm"] += 1
        out = getattr(mx.nd, node["op"])(*args, **attrs, name=node["name"])
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if node["op"] in _SCALED_OPS:
            rms = float(mx.nd.sqrt(mx.nd.mean(mx.nd.square(out[0].astype("float64")))).asscalar())
            if np.isfinite(rms) and rms > 0:
                for name in names[1:]:
                    params[name].set_data(params[name].data() / rms)
                out[0] = out[0] / rms
                counts["scaled"] += 1
        values[index] = out


def _second_moment(x: np.ndarray, axes: tuple) -> np.ndarray:
    """The `moving_var` to store: the layer's mean E[x^2], the same for every channel.

    Two measured reasons (FCN-ResNet50, float32 against float64 on the same weights):
    per-channel statistics make a random network chaotic. Centering each channel (moving_mean
    = its mean) and scaling each to unit variance amplified rounding by ~1.15x per layer,
    1e-3 at the output, so no two float32 runtimes could agree at atol 1e-4; dividing by
    one per-layer E[x^2] with moving_mean 0 keeps the same O(1) scale with 7e-6 error.
    And E[x^2] >= Var[x]: nearly constant deep features (1x1 at SSD's last scales) are not
    blown up (SSD boxes reached 1e14 when their variance was used).
    """
    scale = float(np.square(x).mean())
    return np.full(_channels(x, axes),
                   scale if scale > _MIN_VARIANCE else 1.0)


def _channels(x: np.ndarray, axes: tuple) -> int:
    return int(np.prod([d for i, d in enumerate(x.shape) if i not in axes]))


def _walk(block):
    yield block
    for child in block._children.values():
        yield from _walk(child)
