"""Serving engines: how the accelerator turns a loaded graph into per-shape executors.

An engine prepares a model once (`prepare`: parse the graph, place the params) and binds one
executor per input signature (`bind`). The server owns memory accounting and the LRU; the
engine only reports the bytes each part holds.

Executor memory (`BoundExecutor.nbytes`) for the MXNet engine is MXNet's own figure for the
bound executor: `executor.debug_str()` ends with "Total N MB allocated", the memory planner's
pool for intermediate results (N is floored to whole MiB, so we count N + 1 MiB), plus the
executor's input arrays. Parameters are shared by every executor of a model and counted once,
in `PreparedModel.params_bytes`. Not counted: oneDNN's private reordered weight copies, which
MXNet allocates outside the planner on the first forward.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pipeline.accelerator.errors import BadRequest, EngineError
from pipeline.core.registry import Registry
from pipeline.core.runtime_errors import first_error_line, runtime_call

MiB = 1 << 20
_TOTAL_RE = re.compile(r"Total (\d+) MB allocated")


@dataclass
class PreparedModel:
    """A graph with its params placed; shared by all executors of the model."""

    input_names: list[str]
    input_dtypes: dict[str, str]
    output_names: list[str]
    params_bytes: int
    state: object = None


@dataclass
class BoundExecutor:
    """One executor for one input signature."""

    nbytes: int
    run: Callable[[dict[str, np.ndarray]], list[np.ndarray]]
    state: object = None
    info: dict = field(default_factory=dict)


def _split_params(symbol, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Accept `arg:`/`aux:` prefixed names (MXNet's .params convention) or plain names."""
    aux_names = set(symbol.list_auxiliary_states())
    args, aux = {}, {}
    for name, value in params.items():
        kind, sep, plain = name.partition(":")
        if sep and kind in ("arg", "aux"):
            (aux if kind == "aux" else args)[plain] = value
        else:
            (aux if name in aux_names else args)[name] = value
    return args, aux


class MXNetEngine:
    """MXNet 1.9.1's executor on the server's CPU, bound for inference only."""

    name = "mxnet"

    @classmethod
    def check_available(cls) -> None:
        import mxnet  # noqa: F401  (the project's pinned dependency)

    def prepare(self, symbol_json: str, params: dict[str, np.ndarray],
                inputs: dict[str, tuple[tuple[int, ...], str]]) -> PreparedModel:
        import mxnet as mx

        from pipeline.core.errors import ModelError
        from pipeline.model.symbol_json import validate_graph

        try:
            validate_graph(json.loads(symbol_json), "load")  # a bad index would segfault the server
            symbol = mx.sym.load_json(symbol_json)
        except ModelError as exc:
            raise BadRequest(f"the symbol JSON is not a valid graph: {exc.message}", where=exc.where,
                             hint="send the graph saved by Symbol.tojson()") from None
        except (ValueError, RecursionError, mx.MXNetError) as exc:
            raise BadRequest(f"the symbol JSON does not load: {first_error_line(exc)}",
                             where="load", hint="send the graph saved by Symbol.tojson()") from None
        args, aux = _split_params(symbol, params)
        arguments = symbol.list_arguments()
        missing = [n for n in arguments if n not in args and n not in inputs]
        if missing:
            raise BadRequest(f"graph arguments with no value: {', '.join(missing[:5])}", where="load",
                             hint="send them as params or declare them as inputs")
        missing_aux = [n for n in symbol.list_auxiliary_states() if n not in aux]
        if missing_aux:
            raise BadRequest(f"auxiliary states with no value: {', '.join(missing_aux[:5])}", where="load",
                             hint="send every aux param (e.g. BatchNorm moving_mean/moving_var)")
        nd_args = {n: mx.nd.array(v, dtype=v.dtype) for n, v in args.items() if n in arguments}
        nd_aux = {n: mx.nd.array(v, dtype=v.dtype) for n, v in aux.items()}
        params_bytes = sum(int(v.size) * np.dtype(v.dtype).itemsize for v in (*nd_args.values(), *nd_aux.values()))
        return PreparedModel(input_names=list(inputs), input_dtypes={n: d for n, (_, d) in inputs.items()},
                             output_names=symbol.list_outputs(), params_bytes=params_bytes,
                             state=(symbol, nd_args, nd_aux))

    def bind(self, model: PreparedModel, shapes: dict[str, tuple[int, ...]]) -> BoundExecutor:
        import mxnet as mx

        symbol, nd_args, nd_aux = model.state
        args = dict(nd_args)
        input_bytes = 0
        for name in model.input_names:
            args[name] = mx.nd.zeros(shapes[name], dtype=model.input_dtypes[name])
            input_bytes += args[name].size * np.dtype(model.input_dtypes[name]).itemsize
        try:
            exe = symbol.bind(mx.cpu(), args=args, aux_states=nd_aux, grad_req="null")
        except mx.MXNetError as exc:
            raise BadRequest(f"cannot bind the graph for inputs {shapes}: {_first_line(exc)}", where="forward",
                             hint="check the input shapes against the graph") from None
        match = _TOTAL_RE.search(exe.debug_str())
        planned = (int(match.group(1)) + 1) * MiB if match else _estimate_activations(symbol, shapes)
        input_arrays = {n: args[n] for n in model.input_names}

        def run(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
            try:
                for name, value in feed.items():
                    input_arrays[name][:] = value
                exe.forward(is_train=False)
                return [o.asnumpy() for o in exe.outputs]
            except mx.MXNetError as exc:
                raise EngineError(f"MXNet failed in forward: {_first_line(exc)}", where="forward") from None

        return BoundExecutor(nbytes=planned + input_bytes, run=run, state=exe,
                             info={"planner": "debug_str" if match else "estimate"})


def _first_line(exc) -> str:
    return first_error_line(exc)  # the one reader of native messages (pipeline/core/runtime_errors.py)


def _estimate_activations(symbol, shapes) -> int:
    """Upper bound when MXNet gives no figure: every internal output held at once, 4 bytes each."""
    _, out_shapes, _ = symbol.get_internals().infer_shape(**shapes)
    return sum(int(np.prod(s)) * 4 for s in out_shapes if s)


class OnnxRuntimeEngine:
    """ONNX Runtime serving: each bound shape is exported (pipeline/onnx/export.py, opset
    pinned, params as initializers) and opened as an InferenceSession with every graph
    optimization. The memory charged is params + MXNet's planned activations for that
    shape (the same planner figure as the mxnet engine: ORT's own arena is not observable)."""

    name = "onnxruntime"

    @classmethod
    def check_available(cls) -> None:
        import onnxruntime  # noqa: F401  (the project's pinned dependency)

    def prepare(self, symbol_json: str, params: dict[str, np.ndarray],
                inputs: dict[str, tuple[tuple[int, ...], str]]) -> PreparedModel:
        prepared = MXNetEngine().prepare(symbol_json, params, inputs)  # the same validation
        symbol, nd_args, nd_aux = prepared.state
        args = {n: v.asnumpy() for n, v in nd_args.items()}
        aux = {n: v.asnumpy() for n, v in nd_aux.items()}
        prepared.state = (symbol_json, symbol, args, aux)
        return prepared

    def bind(self, model: PreparedModel, shapes: dict[str, tuple[int, ...]]) -> BoundExecutor:
        import onnxruntime as ort

        from pipeline.model.bundle import ModelBundle, TensorSpec
        from pipeline.core.errors import MxdeployError
        from pipeline.measure.memory import estimate
        from pipeline.onnx.export import to_onnx

        symbol_json, symbol, args, aux = model.state
        specs = [TensorSpec(n, tuple(shapes[n]), model.input_dtypes[n]) for n in model.input_names]
        bundle = ModelBundle(symbol_json, args, aux, specs, outputs=list(model.output_names))
        try:
            proto = to_onnx(bundle)
        except MxdeployError as exc:
            raise BadRequest(f"cannot export the graph to ONNX: {exc.message}", where="load",
                             hint=exc.hint or "serve it with --engine mxnet") from None
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        with runtime_call("onnxruntime", "the session for the exported graph", code=BadRequest.code, error=BadRequest,
                          where="load", hint="serve it with --engine mxnet"):
            session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feed_names = [i.name for i in session.get_inputs()]
        activations = estimate(bundle).activation_bytes  # MXNet's planner replayed (pipeline/measure/memory.py)
        input_bytes = sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize for s in specs)

        def run(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
            with runtime_call("onnxruntime", "the forward", code=EngineError.code, error=EngineError,
                              where="forward", feed=feed):
                return session.run(None, {n: feed[n] for n in feed_names})

        return BoundExecutor(nbytes=activations + input_bytes, run=run, state=session,
                             info={"planner": "mxnet-memory-model"})


ENGINES: Registry[type] = Registry("accelerator engine")
ENGINES.register(MXNetEngine.name, MXNetEngine)
ENGINES.register(OnnxRuntimeEngine.name, OnnxRuntimeEngine)


def make_engine(name: str):
    cls = ENGINES.get(name)
    cls.check_available()
    return cls()
