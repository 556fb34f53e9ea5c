"""`cpu`: the plain MXNet executor, through the Symbol API or the Module API.

These are the two paths of the Elastic Inference guide, bound for inference only
(`for_training=False`, `grad_req='null'`). Label inputs of training heads are bound to zeros
so a checkpoint saved from training deploys as it is.
"""
from __future__ import annotations

import contextlib
import os
from collections import namedtuple
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import TargetError
from pipeline.core.runtime_errors import runtime_call
from pipeline.model.labels import label_variables
from pipeline.targets.base import Target, register_target

_Batch = namedtuple("Batch", ["data"])
MAX_BOUND = 4  # executors kept per session, one per input shape seen (dynamic axes)


class MXNetExecutorTarget(Target):
    """Shared by MXNet-backed targets: binds `self._symbol(bundle)` with the chosen API."""

    apis: ClassVar[tuple[str, ...]] = ("symbol", "module")
    # MXNet binds the int8 (oneDNN quantization) and bf16 (AMP) Symbols the quantizers write.
    precisions = frozenset({"fp32", "bf16", "int8"})
    formats = frozenset({"symbol", "mxnet-int8", "mxnet-bf16"})

    @classmethod
    def version(cls) -> str:
        import mxnet as mx

        return mx.__version__

    def _symbol(self, bundle: ModelBundle):
        return bundle.symbol()

    def _deploy_impl(self, bundle: ModelBundle) -> None:
        from pipeline.model.runtime_modules import ensure_runtime_modules

        ensure_runtime_modules(bundle)  # a partitioned bundle's subgraph op, in a fresh process too
        api = self.options.get("api", "symbol")
        if api not in self.apis:
            raise TargetError(f"target '{self.name}' has no api '{api}'", code="TGT006",
                              hint=f"use one of: {', '.join(self.apis)}")
        self._api = api
        self._input_names = [s.name for s in bundle.inputs]
        self._sym = self._symbol(bundle)
        self._params = bundle.mx_params()
        self._dtypes = {s.name: np.dtype(s.dtype) for s in bundle.inputs}
        self._labels = [n for n in label_variables(bundle.symbol_json) if n not in self._dtypes]
        self._nodes = [n["name"] for n in bundle.graph()["nodes"] if n["op"] != "null"]  # named in refusals
        self._bound: dict[tuple, object] = {}
        self._bind(bundle.input_shapes())

    def _bind(self, shapes: dict[str, tuple[int, ...]]):
        """Bind for `shapes` (once per shape: a dynamic input fed at another size rebinds,
        keeping at most MAX_BOUND executors, the oldest dropped first)."""
        import mxnet as mx

        key = tuple(tuple(shapes[n]) for n in self._input_names)
        if key in self._bound:
            self._bound[key] = self._bound.pop(key)  # most recently used last
            return self._bound[key]
        sym, (arg_params, aux_params), dtypes = self._sym, self._params, self._dtypes
        with runtime_call("mxnet", f"shape inference for inputs {shapes}", code="TGT007", nodes=self._nodes,
                          hint="check the declared input shapes, and the attributes of the node named"):
            arg_shapes, _, _ = sym.infer_shape(**shapes)
        label_shapes = {n: s for n, s in zip(sym.list_arguments(), arg_shapes) if n in self._labels}
        if self._api == "symbol":
            args = dict(arg_params)
            for name, shape in shapes.items():
                args[name] = mx.nd.zeros(shape, dtype=dtypes[name])
            for name, shape in label_shapes.items():
                args[name] = mx.nd.zeros(shape)
            missing = [n for n in sym.list_arguments() if n not in args]
            if missing:
                raise TargetError(f"no value for graph arguments: {', '.join(missing)}", code="TGT008",
                                  hint="declare them as inputs or supply their params")
            with runtime_call("mxnet", "the bind", code="TGT011", nodes=self._nodes):
                bound = (sym.bind(ctx=mx.cpu(), args=args, aux_states=aux_params, grad_req="null"), None)
        else:
            with runtime_call("mxnet", "the Module bind", code="TGT011", nodes=self._nodes):
                mod = mx.mod.Module(symbol=sym, context=mx.cpu(), data_names=self._input_names,
                                    label_names=list(label_shapes) or None)
                mod.bind(for_training=False,
                         data_shapes=[mx.io.DataDesc(n, shapes[n], dtype=dtypes[n]) for n in self._input_names],
                         label_shapes=[(n, s) for n, s in label_shapes.items()] or None)
                mod.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
            bound = (mod, [mx.nd.zeros(s) for s in label_shapes.values()])
        self._bound[key] = bound
        while len(self._bound) > MAX_BOUND:
            self._bound.pop(next(iter(self._bound)))
        return bound

    def _infer_impl(self, feed):
        import mxnet as mx

        from pipeline.core.errors import MxdeployError
        from pipeline.partition.runtime import take_engine_error

        take_engine_error()  # clear a stale one
        with runtime_call("mxnet", "the forward", code="TGT012", feed=feed, nodes=self._nodes):
            try:
                return self._forward(feed)
            except mx.MXNetError:
                original = take_engine_error()  # a subgraph engine's coded error, not MXNet's wrapper
                if isinstance(original, MxdeployError):
                    raise original from None
                raise

    def _forward(self, feed):
        import mxnet as mx

        runner, label_zeros = self._bind({n: tuple(feed[n].shape) for n in self._input_names})
        if self._api == "symbol":
            runner.forward(is_train=False, **{n: mx.nd.array(feed[n], dtype=feed[n].dtype)
                                              for n in self._input_names})
            return [o.asnumpy() for o in runner.outputs]
        batch = mx.io.DataBatch(data=[mx.nd.array(feed[n], dtype=feed[n].dtype) for n in self._input_names],
                                label=label_zeros or None)
        runner.forward(batch, is_train=False)
        return [o.asnumpy() for o in runner.get_outputs()]

    def _close_impl(self) -> None:
        self._bound = {}



@contextlib.contextmanager
def unfused_binds(active: bool = True):
    """Binds inside the block get the plain graph, without MXNet's default oneDNN subgraph fusion.

    MXNet 1.9.1's mkldnn build fuses Convolution+BatchNorm+ReLU at bind time unless
    MXNET_SUBGRAPH_BACKEND=NONE (read at each bind), and a fused graph answers under the
    Convolution's name. The checkpoint reference binds unfused to stay the graph the file
    describes; localization binds unfused so a tapped conv reads its own output.
    """
    old = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    if active:
        os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MXNET_SUBGRAPH_BACKEND", None)
        else:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = old


@register_target
class CpuTarget(MXNetExecutorTarget):
    name = "cpu"
    summary = "MXNet's own executor on the host CPU (Symbol bind or Module API)"
    # Only fp32 is tuned here: a quantized Symbol on the plain executor is what onednn serves
    # (MXNet 1.9.1's MKLDNN build fuses at bind), so tuning it twice would time one thing twice.
    tune = MappingProxyType({"fp32": {}})
