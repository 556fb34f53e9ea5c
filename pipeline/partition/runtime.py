"""Runs a partitioned bundle: each accelerator subgraph is one MXNet Custom node.

Importing this module registers the MXNet custom op `mxdeploy_subgraph`. Its node attrs carry
the subgraph's own symbol JSON, so a partitioned checkpoint is self-contained: any process
that imports this module can bind it with the plain executor (`pipeline.targets.cpu`), while
the CPU nodes around the subgraphs run in MXNet as usual. The subgraph's params stay in the
standard params file; they are fed to the custom node as ordinary inputs (aux states as its
aux states), and reach the engine once, at the first forward.

The work itself is done by a **subgraph engine**, chosen by name in the node's `engine` attr.
The interface is deliberately small, so a remote accelerator (a server holding the
subgraphs within its memory) can replace the local one:

    class SubgraphEngine:
        def load(self, key, symbol_json, params, input_shapes, input_dtypes) -> None
            # keep a runnable copy of the subgraph under `key`; params: {name: np.ndarray}
        def forward(self, key, arrays) -> list[np.ndarray]
            # arrays: {input name: np.ndarray} for the non-param inputs; returns the outputs in order
        def unload(self, key) -> None
            # free it (called when the MXNet operator instance goes away)

Engines register in `SUBGRAPH_ENGINES` by name (not the accelerator server's own `ENGINES`, which
run whole models); `mxnet` (an executor per key, in this process) is the default. Each operator
instance gets its own key, since every bind holds its own params.
"""
from __future__ import annotations

import itertools
import json
import threading
import weakref

import numpy as np

from pipeline.core.registry import Registry
from pipeline.core.runtime_errors import runtime_call

OP_TYPE = "mxdeploy_subgraph"


class SubgraphEngine:
    """Base class of subgraph engines; see the module docstring for the contract."""

    name = ""

    def load(self, key: str, symbol_json: str, params: dict[str, np.ndarray],
             input_shapes: dict[str, tuple], input_dtypes: dict[str, str]) -> None:
        raise NotImplementedError

    def forward(self, key: str, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def unload(self, key: str) -> None:
        raise NotImplementedError


SUBGRAPH_ENGINES: Registry[type[SubgraphEngine]] = Registry("subgraph engine")
_instances: dict[str, SubgraphEngine] = {}
_instances_lock = threading.Lock()


def register_engine(cls: type[SubgraphEngine]) -> type[SubgraphEngine]:
    return SUBGRAPH_ENGINES.register(cls.name, cls)


def engine(name: str) -> SubgraphEngine:
    """The process's one instance of engine `name` (engines hold loaded subgraphs, so one each)."""
    with _instances_lock:
        if name not in _instances:
            _instances[name] = SUBGRAPH_ENGINES.get(name)()
        return _instances[name]


@register_engine
class MXNetSubgraphEngine(SubgraphEngine):
    """Runs each subgraph with MXNet's executor in this process (inference only)."""

    name = "mxnet"

    def __init__(self):
        self._executors = {}

    def load(self, key, symbol_json, params, input_shapes, input_dtypes):
        import mxnet as mx

        sym = mx.sym.load_json(symbol_json)
        args = {n: mx.nd.array(v, dtype=v.dtype) for n, v in params.items() if n in sym.list_arguments()}
        for name, shape in input_shapes.items():
            args[name] = mx.nd.zeros(shape, dtype=input_dtypes.get(name, "float32"))
        aux = {n: mx.nd.array(v, dtype=v.dtype) for n, v in params.items() if n in sym.list_auxiliary_states()}
        with runtime_call("mxnet", "the bind of a partitioned subgraph", code="TGT011", where=key,
                          nodes=_op_names(symbol_json)):
            self._executors[key] = sym.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")

    def forward(self, key, arrays):
        exe = self._executors[key]
        with runtime_call("mxnet", "the forward of a partitioned subgraph", code="TGT012", where=key, feed=arrays):
            for name, value in arrays.items():
                exe.arg_dict[name][:] = value
            return [o.asnumpy() for o in exe.forward(is_train=False)]

    def unload(self, key):
        self._executors.pop(key, None)


def _op_names(symbol_json: str) -> list[str]:
    return [n["name"] for n in json.loads(symbol_json)["nodes"] if n["op"] != "null"]


_keys = itertools.count()
_engine_errors: list[BaseException] = []  # MXNet runs custom ops on its own worker thread
_engine_errors_lock = threading.Lock()


def take_engine_error() -> BaseException | None:
    """The error an engine raised inside the last failed subgraph forward, once.

    MXNet turns an exception raised inside a custom op into a generic MXNetError carrying only
    the traceback text; the executor that called forward re-raises the original with this.
    """
    with _engine_errors_lock:
        error = _engine_errors[-1] if _engine_errors else None
        _engine_errors.clear()
    return error


def _make_op_classes():
    import mxnet as mx

    class SubgraphOp(mx.operator.CustomOp):
        """One bound instance of a subgraph node; loads into the engine at its first forward."""

        def __init__(self, prop):
            super().__init__()
            self.prop = prop
            self.engine = engine(prop.engine_name)
            self.key = f"{prop.key}#{next(_keys)}"
            self.loaded = False
            weakref.finalize(self, self.engine.unload, self.key)

        def forward(self, is_train, req, in_data, out_data, aux):
            try:
                self._forward(req, in_data, out_data, aux)
            except Exception as exc:
                with _engine_errors_lock:
                    _engine_errors.append(exc)
                raise

        def _forward(self, req, in_data, out_data, aux):
            values = dict(zip(self.prop.arg_names, in_data))
            values.update(zip(self.prop.aux_names, aux))
            data_names = [n for n in self.prop.arg_names if n not in self.prop.param_names]
            if not self.loaded:
                self.engine.load(self.key, self.prop.symbol_json,
                                 {n: values[n].asnumpy() for n in values if n in self.prop.param_names},
                                 {n: tuple(values[n].shape) for n in data_names},
                                 {n: np.dtype(values[n].dtype).name for n in data_names})
                self.loaded = True
            outputs = self.engine.forward(self.key, {n: values[n].asnumpy() for n in data_names})
            for i, value in enumerate(outputs):
                self.assign(out_data[i], req[i], mx.nd.array(value, dtype=value.dtype))

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            raise RuntimeError("mxdeploy subgraph nodes are inference only")

    @mx.operator.register(OP_TYPE)
    class SubgraphProp(mx.operator.CustomOpProp):
        """Shapes and types come from the subgraph symbol's own inference."""

        def __init__(self, symbol_json, key, param_names, engine="mxnet"):
            super().__init__(need_top_grad=False)
            self.symbol_json = symbol_json
            self.key = key
            self.engine_name = engine
            self.param_names = set(json.loads(param_names))
            self.sym = mx.sym.load_json(symbol_json)
            self.arg_names = self.sym.list_arguments()
            self.aux_names = self.sym.list_auxiliary_states()

        def list_arguments(self):
            return self.arg_names

        def list_auxiliary_states(self):
            return self.aux_names

        def list_outputs(self):
            return [f"output{i}" for i in range(len(self.sym.list_outputs()))]

        def infer_shape(self, in_shape):
            known = {n: tuple(s) for n, s in zip(self.arg_names, in_shape) if len(s) and all(d > 0 for d in s)}
            arg_shapes, out_shapes, aux_shapes = self.sym.infer_shape_partial(**known)
            return arg_shapes, out_shapes, aux_shapes

        def infer_type(self, in_type):
            known = {n: t for n, t in zip(self.arg_names, in_type) if t is not None and t != -1}
            arg_types, out_types, aux_types = self.sym.infer_type(**known) if known else (None, None, None)
            if arg_types is None:  # nothing known yet: MXNet's own default, the first input's type
                first = next((t for t in in_type if t is not None and t != -1), np.float32)
                return ([first] * len(self.arg_names), [first] * len(self.list_outputs()),
                        [first] * len(self.aux_names))
            return arg_types, out_types, aux_types

        def create_operator(self, ctx, in_shapes, in_dtypes):
            return SubgraphOp(self)

    return SubgraphOp, SubgraphProp


SubgraphOp, SubgraphProp = _make_op_classes()
