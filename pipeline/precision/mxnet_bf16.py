"""bf16 for cpu and onednn: MXNet 1.9.1's AMP (`mx.contrib.amp.convert_model`) on the fp32 graph.

AMP rewrites the Symbol so that the ops on its bf16 list (Convolution, FullyConnected, ...) run
in bfloat16, inserting `amp_cast` nodes where a bf16 tensor meets an op kept in fp32 (the
softmax and the graph's outputs stay fp32). With `cast_optional_params=True` the weights of
those ops are converted once, up front, instead of being cast on every forward: without it
the bf16 model measured slower than fp32. The result is a plain Symbol + params checkpoint, so
the bundle *is* the bf16 model; its bf16 params are stored widened to float32 (exact) and
narrowed again at bind (pipeline/model/bf16.py). The onednn target fuses it like any graph.

AMP must see the unfused graph: on a graph already fused by `optimize_for('MKLDNN')` its
converted weights meet fp32 inputs inside the `_sg_mkldnn_*` nodes and bind fails ("requires
uniform type"), so an already-fused bundle is refused (QNT110); the onednn target fuses the
bf16 graph at deploy anyway. exclude_nodes names fp32 graph nodes that stay in fp32.
"""
from __future__ import annotations

import json

from pipeline.model import bf16
from pipeline.model.bundle import ModelBundle, symbol_json
from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import wrap
from pipeline.graph.onednn_fusion import FUSED_PREFIX
from pipeline.core.registry import did_you_mean
from pipeline.model.symbol_json import node_attrs
from pipeline.precision.quantizers import QuantizeJob, record, register, require_bf16


def _op_names(symbol_json: str) -> list[str]:
    return [n["name"] for n in json.loads(symbol_json)["nodes"] if n["op"] != "null"]


def _check_unfused(symbol_json: str) -> None:
    fused = [n["name"] for n in json.loads(symbol_json)["nodes"] if n["op"].startswith(FUSED_PREFIX)]
    if fused:
        raise StageError(f"bf16 for onednn converts the unfused graph, and this one is already fused "
                         f"('{fused[0]}' and {len(fused) - 1} more {FUSED_PREFIX}* nodes)", code="QNT110",
                         where=fused[0], hint="put quantize before the optimize stage's onednn_fuse pass "
                                              "(the onednn target fuses the bf16 graph at deploy)")


def _check_exclusions(symbol_json: str, exclude: tuple[str, ...]) -> None:
    names = _op_names(symbol_json)
    for name in exclude:
        if name not in names:
            raise StageError(f"exclude_nodes names '{name}', which is not in the graph{did_you_mean(name, names)}",
                             where=name, code="QNT108", hint="use the MXNet node names of the bundle "
                                                             "(model-symbol.json)")


def _converted_any(symbol_json: str) -> bool:
    nodes = json.loads(symbol_json)["nodes"]
    return bool(bf16.declared(symbol_json)) or any(
        n["op"] in ("amp_cast", "amp_multicast") and node_attrs(n).get("dtype") == "bfloat16"
        for n in nodes)


@register("bf16", "cpu", "onednn", format="mxnet-bf16", label="MXNet's AMP")
def convert_mxnet_bf16(job: QuantizeJob) -> ModelBundle:
    import mxnet as mx
    from mxnet.contrib import amp

    require_bf16()
    bundle = job.bundle
    _check_unfused(bundle.symbol_json)
    _check_exclusions(bundle.symbol_json, tuple(job.params.exclude_nodes))
    arg_params, aux_params = bundle.mx_params()  # fresh dicts: AMP casts the ones it is given in place
    try:
        sym, args, aux = amp.convert_model(bundle.symbol(), arg_params, aux_params, target_dtype="bfloat16",
                                           excluded_sym_names=list(job.params.exclude_nodes),
                                           cast_optional_params=True)
    except mx.MXNetError as exc:
        raise wrap(exc, "mxnet", "the AMP conversion to bf16", code="QNT109", error=StageError,
                   hint="exclude the node it names (exclude_nodes), or use precision int8") from None
    converted = symbol_json(sym)
    if not _converted_any(converted):
        raise StageError("AMP converted no op of this graph to bf16, so nothing would run faster", code="QNT111",
                         hint="bf16 speeds up Convolution and FullyConnected; use precision int8, or deploy fp32")
    meta = {**bundle.metadata, "quantized": record(job, "mxnet-bf16", bf16_params=len(bf16.declared(converted)))}
    out = ModelBundle.from_symbol(sym, args, aux, bundle.inputs, metadata=meta, history=bundle.history)
    out.history.append({"stage": "quantize", "precision": "bf16", "format": "mxnet-bf16"})
    return out
