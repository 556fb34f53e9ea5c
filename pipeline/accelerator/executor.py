"""`EIAExecutor`: what `Symbol.bind` / `simple_bind` return for an `mx.eia()` context.

It looks like MXNet's Executor to user code and to `mx.mod.Module` (arg_dict, aux_dict,
arg_arrays, grad_arrays, aux_arrays, outputs, forward, copy_params_from, reshape, debug_str),
keeps every array on the CPU as the contract says, and runs the graph on the accelerator.

Which arguments travel with every forward and which are loaded once: the inputs are the
names given shapes at `simple_bind` (and Module's data and label names) plus every name ever
passed to `forward(**kwargs)`; everything else is a parameter, loaded with the graph on the
first forward. A parameter written through `copy_params_from` (what `Module.set_params` calls)
or a new input name reloads the model before the next forward. Writing into a parameter array
in place after the first forward (`exe.arg_dict['w'][:] = ...`) is not seen, as on Elastic
Inference, whose bind also placed the parameters on the accelerator once.
"""
from __future__ import annotations

import itertools
import os
import sys
from collections import OrderedDict

import numpy as np

from pipeline.accelerator.errors import TRAINING_MESSAGE, AcceleratorError, EIAUsageError
from pipeline.model.bundle import symbol_json

BACKWARD_MESSAGE = "backward() is not supported with EIA context: the accelerator runs inference only"
_keys = itertools.count(1)


class _RemoteModel:
    """The graph loaded on the accelerator, shared by an executor and its reshaped copies."""

    def __init__(self, engine, symbol):
        self.engine = engine
        self.symbol_json = symbol_json(symbol)
        self.key: str | None = None
        self.inputs: tuple[str, ...] = ()
        self.dirty = True
        self.executor_bytes = 0

    def ensure(self, inputs: set[str], arg_dict, aux_dict) -> None:
        if self.key is not None and not self.dirty and inputs <= set(self.inputs):
            return
        self.release()
        names = [n for n in arg_dict if n in inputs]
        params = {f"arg:{n}": a for n, a in arg_dict.items() if n not in inputs}
        params.update({f"aux:{n}": a for n, a in aux_dict.items()})
        key = f"eia-{os.getpid()}-{next(_keys)}"
        reply = self.engine.load(key, self.symbol_json, params, {n: arg_dict[n].shape for n in names},
                                 {n: np.dtype(arg_dict[n].dtype).name for n in names})
        self.key, self.inputs, self.dirty = key, tuple(names), False
        self.executor_bytes = int(reply.get("executor_bytes", 0))

    def release(self) -> None:
        if self.key is not None:
            key, self.key = self.key, None
            try:
                self.engine.unload(key)
            except AcceleratorError:
                pass   # the server is gone or restarted: nothing left to free

    def __del__(self):
        # The last executor sharing this model is gone: free its accelerator memory now rather
        # than at the end of the session (Elastic Inference kept it until then).
        if self.key is not None and not sys.is_finalizing():
            try:
                self.release()
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass


class EIAExecutor:
    """An inference-only executor whose forward runs on the accelerator."""

    def __init__(self, symbol, ctx, arg_dict: "OrderedDict", aux_dict: "OrderedDict", inputs: set[str],
                 engine, model: _RemoteModel | None = None):
        import mxnet as mx

        self._symbol = symbol
        self._ctx = ctx
        self.arg_dict = arg_dict
        self.aux_dict = aux_dict
        self.grad_dict: dict = {}
        self._inputs = set(inputs)
        self._engine = engine
        self._model = model or _RemoteModel(engine, symbol)
        _, out_shapes, _ = symbol.infer_shape(**{n: a.shape for n, a in arg_dict.items()})
        _, out_types, _ = symbol.infer_type(**{n: a.dtype for n, a in arg_dict.items()})
        self._output_names = symbol.list_outputs()
        self._outputs = [mx.nd.zeros(s, dtype=t) for s, t in zip(out_shapes, out_types)]
        self._monitor = None

    # -- MXNet's Executor surface ------------------------------------------------------------
    @property
    def arg_arrays(self):
        return list(self.arg_dict.values())

    @property
    def aux_arrays(self):
        return list(self.aux_dict.values())

    @property
    def grad_arrays(self):
        return [None] * len(self.arg_dict)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def output_dict(self):
        return OrderedDict(zip(self._output_names, self._outputs))

    def forward(self, is_train: bool = False, **kwargs):
        import mxnet as mx

        if is_train:
            raise EIAUsageError(TRAINING_MESSAGE, where="forward", hint="call forward(is_train=False)")
        fresh = {}
        for name, value in kwargs.items():
            if name not in self.arg_dict:
                raise ValueError(f"Unknown argument {name}")
            target = self.arg_dict[name]
            if isinstance(value, mx.nd.NDArray):
                if value.context.device_type != "cpu":
                    raise ValueError(f"input '{name}' is on {value.context}: with EIA context inputs live on "
                                     "mx.cpu() and move to the accelerator automatically")
                if value.handle.value != target.handle.value:   # not the bound array itself
                    value.copyto(target)       # asynchronous: keeps arg_dict as MXNet's would be
                fresh[name] = value
            else:
                target[:] = np.asarray(value)
            self._inputs.add(name)
        self._model.ensure(self._inputs, self.arg_dict, self.aux_dict)
        # Read a kwarg straight from the caller's array: one synchronisation instead of two.
        feed = {n: (fresh[n] if n in fresh else self.arg_dict[n]).asnumpy() for n in self._model.inputs}
        results = self._engine.forward(self._model.key, feed)
        for i, result in enumerate(results):
            if self._outputs[i].shape == result.shape and np.dtype(self._outputs[i].dtype) == result.dtype:
                self._outputs[i][:] = result
            else:
                self._outputs[i] = mx.nd.array(result, dtype=result.dtype)
        return self.outputs

    def backward(self, out_grads=None, is_train=True):
        raise EIAUsageError(BACKWARD_MESSAGE, where="backward")

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """As MXNet's: copy into the bound arrays; the accelerator copy is refreshed on next forward."""
        for source, dest, kind in ((arg_params, self.arg_dict, "arguments"), (aux_params or {}, self.aux_dict,
                                                                            "auxiliary states")):
            for name, array in source.items():
                if name in dest:
                    _copy_into(array, dest[name])
                elif not allow_extra_params:
                    raise ValueError(f'Find name "{name}" that is not in the {kind}')
        self._model.dirty = True

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes; the accelerator binds that shape in its LRU."""
        import mxnet as mx

        arg_shapes, _, aux_shapes = self._symbol.infer_shape(**kwargs)
        if arg_shapes is None:
            raise ValueError("Insufficient argument shapes provided.")
        new_args = OrderedDict()
        for (name, old), shape in zip(self.arg_dict.items(), arg_shapes):
            if tuple(old.shape) == tuple(shape):
                new_args[name] = old
            elif name in kwargs or partial_shaping:
                new_args[name] = mx.nd.zeros(shape, dtype=old.dtype)
            else:
                raise ValueError(f"Shape of unspecified array arg:{name} changed. This can cause the new "
                                 "executor to not share parameters with the old one. Please check for error "
                                 "in network. If this is intended, set partial_shaping=True to suppress "
                                 "this warning.")
        model = self._model if all(new_args[n] is a for n, a in self.arg_dict.items()
                                   if n not in self._inputs and n not in kwargs) else None
        return EIAExecutor(self._symbol, self._ctx, new_args, self.aux_dict, self._inputs | set(kwargs),
                           self._engine, model)

    def set_monitor_callback(self, callback, monitor_all=False):
        raise EIAUsageError("monitor callbacks are not supported with EIA context: the graph runs remotely",
                            where="set_monitor_callback")

    def debug_str(self) -> str:
        """Module reads the third-last line as "Total N MB allocated"; the accelerator's figure."""
        mib = self._model.executor_bytes >> 20
        return (f"EIA executor for symbol outputs {self._output_names} on {self._ctx}\n"
                f"Total {mib} MB allocated\nTotal 0 TempSpace resource requested\n")


def _copy_into(source, dest) -> None:
    import mxnet as mx

    if isinstance(source, mx.nd.NDArray):
        source.astype(dest.dtype).copyto(dest)
    else:
        dest[:] = np.asarray(source, dtype=dest.dtype)
