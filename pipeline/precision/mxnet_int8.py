"""int8 for cpu and onednn: MXNet 1.9.1's own quantization with its oneDNN backend.

`mx.contrib.quantization.quantize_model_mkldnn` fuses the graph for quantization
(`get_backend_symbol('MKLDNN_QUANTIZE')`: Conv+BN+ReLU and FC become `_sg_mkldnn_*` nodes),
inserts quantize/requantize nodes, calibrates the activation ranges on the calibration feeds
(`naive`: min/max; `entropy`: KL-divergence thresholds) and stores int8 weights. The result
is a plain Symbol + params checkpoint, so the bundle *is* the int8 model. Both the cpu and
the onednn targets bind it: MXNet's int8 kernels are oneDNN kernels either way, and the
onednn target leaves an already-fused graph as it is. MXNet has no percentile calibration;
that pair is refused at validation (stages/quantize.py).

Activations use quantized_dtype 'auto' (uint8 after a ReLU, int8 elsewhere), as MXNet's own
ImageNet quantization scripts do. exclude_nodes names MXNet nodes of the fp32 graph; after
fusion those live inside a `_sg_mkldnn_*` node's subgraph, so each name is mapped to the
fused node that holds it.
"""
from __future__ import annotations

import json

from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import runtime_call, wrap
from pipeline.model.labels import label_variables
from pipeline.core.registry import did_you_mean
from pipeline.precision.quantizers import QuantizeJob, record, register

CALIB_MODES = {"minmax": "naive", "entropy": "entropy"}


def _inner_names(node: dict) -> set[str]:
    names = set()
    for sub in node.get("subgraphs", []):
        for inner in sub.get("nodes", []):
            names.add(inner["name"])
            names |= _inner_names(inner)
    return names


def fused_exclusions(fused_json: str, exclude: tuple[str, ...]) -> list[str]:
    """The fused graph's node names standing for each excluded fp32 node (QNT108 when none)."""
    nodes = [n for n in json.loads(fused_json)["nodes"] if n["op"] != "null"]
    out = []
    for name in exclude:
        owners = [n["name"] for n in nodes if n["name"] == name or name in _inner_names(n)]
        if not owners:
            raise StageError(f"exclude_nodes names '{name}', which is not in the graph"
                             f"{did_you_mean(name, [n['name'] for n in nodes])}", where=name, code="QNT108",
                             hint="use the MXNet node names of the bundle (model-symbol.json)")
        out.extend(o for o in owners if o not in out)
    return out


@register("int8", "cpu", "onednn", format="mxnet-int8", methods=tuple(CALIB_MODES), label="MXNet's quantization")
def quantize_mxnet_int8(job: QuantizeJob) -> ModelBundle:
    import mxnet as mx
    from mxnet.contrib import quantization

    p = job.params
    bundle = job.bundle
    sym = bundle.symbol()
    arg_params, aux_params = bundle.mx_params()
    data_names = [s.name for s in bundle.inputs]
    labels = [n for n in label_variables(bundle.symbol_json) if n not in data_names]
    with runtime_call("mxnet", "the oneDNN quantization fusion (MKLDNN_QUANTIZE)", code="QNT109", error=StageError,
                      hint="exclude the node it names (exclude_nodes), or quantize for onnxruntime"):
        fused = sym.get_backend_symbol("MKLDNN_QUANTIZE").tojson()
    excluded = fused_exclusions(fused, tuple(p.exclude_nodes))
    batch = bundle.inputs[0].shape[0]
    stacked = {name: mx.nd.array(_concat(job.calibration, name), dtype=bundle.inputs[i].dtype)
               for i, name in enumerate(data_names)}
    label_data = {}
    if labels:
        with runtime_call("mxnet", "shape inference of the label inputs", code="QNT109", error=StageError,
                          hint="declare input shapes the graph accepts"):
            arg_shapes, _, _ = sym.infer_shape(**bundle.input_shapes())
        shapes = dict(zip(sym.list_arguments(), arg_shapes))
        rows = len(job.calibration) * batch
        label_data = {n: mx.nd.zeros((rows, *shapes[n][1:])) for n in labels}
    calib = mx.io.NDArrayIter(data=stacked, label=label_data or None, batch_size=batch, shuffle=False)
    try:
        qsym, qargs, qaux = quantization.quantize_model_mkldnn(
            sym, arg_params, aux_params, data_names=data_names, label_names=labels, ctx=mx.cpu(),
            excluded_sym_names=excluded, calib_mode=CALIB_MODES[p.method], calib_data=calib,
            num_calib_examples=len(job.calibration) * batch, quantized_dtype="auto", quantize_mode="smart",
            quantize_granularity="channel-wise" if p.per_channel else "tensor-wise")
    except mx.MXNetError as exc:
        raise wrap(exc, "mxnet", "the oneDNN int8 quantization", code="QNT109", error=StageError,
                   hint="exclude the node it names (exclude_nodes), or quantize for onnxruntime") from None
    meta = {**bundle.metadata, "quantized": record(job, "mxnet-int8", calib_mode=CALIB_MODES[p.method])}
    out = ModelBundle.from_symbol(qsym, qargs, qaux, bundle.inputs, metadata=meta, history=bundle.history)
    out.history.append({"stage": "quantize", "precision": "int8", "format": "mxnet-int8"})
    return out


def _concat(feeds, name):
    import numpy as np

    return np.concatenate([feed[name] for feed in feeds])
