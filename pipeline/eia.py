"""`import pipeline.eia`: the `mx.eia()` drop-in for scripts written for Elastic Inference.

Importing this module once makes `mx.eia(device_id=0)` exist: a Context of device type 6,
named "eia" (the id Elastic Inference's MXNet used, as its "Unimplemented device 6" error
shows). MXNet itself never allocates on it. `Symbol.bind`, `Symbol.simple_bind` and
`mx.mod.Module` given that context return an `EIAExecutor` that runs the graph on the
accelerator: the embedded local one, or the one `MXDEPLOY_ACCELERATOR=host:port` names.

The contract's rules, with the guide's messages (ValueError subclasses, code ACC116):
- `Module.bind(for_training=True)` (Module's default), `forward(is_train=True)`, or a
  gradient request: "for training cannot be set to true with EIA context";
  `backward()`, an optimizer, `update()`: inference only.
- several contexts, `group2ctxs`/`group2ctx`, or a device id other than 0:
  "Maximum one EIA device can be attached to an instance".
- a GPU context (`mx.gpu()` or binding on one): EI's MXNet has no CUDA.
- NDArray allocation on `mx.eia()` (`mx.nd.array(..., ctx=mx.eia())`, `zeros`, `copyto`...):
  `EIAAllocationError` (an MXNetError, code ACC117): arrays live on `mx.cpu()`.

Monkeypatching: every patched attribute is recorded with its original by `install()`, which
runs once on import; `uninstall()` restores MXNet exactly (tests use it), and `install()` again
re-applies. Nothing else in MXNet is touched.
"""
from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict

import mxnet as mx
import numpy as np

from pipeline.accelerator.errors import MAX_ONE_DEVICE, TRAINING_MESSAGE, AcceleratorError, EIAUsageError, ModelTooLarge
from pipeline.accelerator.executor import EIAExecutor
from pipeline.targets.sizes import smallest_fit

EIA_DEVTYPE = 6
GPU_MESSAGE = "GPU context is not supported with EIA context: MXNet with Elastic Inference has no CUDA"
_MISSING = object()
_patches: list[tuple[object, str, object]] = []
_engine_lock = threading.Lock()
_engine_holder: dict = {}


class EIAAllocationError(AcceleratorError, mx.base.MXNetError):
    """An NDArray allocated on the EIA context (an MXNetError, like Elastic Inference's)."""

    code = "ACC117"


def eia(device_id: int = 0) -> mx.Context:
    """The accelerator context; pass it to `bind`, `simple_bind` or `mx.mod.Module`."""
    return mx.Context("eia", device_id)


def is_eia(ctx) -> bool:
    return isinstance(ctx, mx.Context) and ctx.device_typeid == EIA_DEVTYPE


def _usage(message: str, where: str = "mx.eia()", hint: str = "") -> EIAUsageError:
    return EIAUsageError(message, where=where, hint=hint)


def _engine():
    """The process's accelerator engine (one attach per process), created on first bind."""
    from pipeline.accelerator.client import RemoteSubgraphEngine

    with _engine_lock:
        engine = _engine_holder.get("engine")
        if engine is None or engine.client._closed:
            engine = _engine_holder["engine"] = RemoteSubgraphEngine()
        return engine


def detach() -> None:
    """Close this process's accelerator attach (its models are freed); the next bind attaches again."""
    with _engine_lock:
        engine = _engine_holder.pop("engine", None)
    if engine is not None:
        engine.close()


# -- rule checks ---------------------------------------------------------------------------
def _contexts_in(value) -> list:
    if value is None:
        return []
    if isinstance(value, mx.Context):
        return [value]
    if isinstance(value, dict):
        return [c for v in value.values() for c in _contexts_in(v)]
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in _contexts_in(v)]
    return []


def _check_no_gpu(*values) -> None:
    if any(c.device_type == "gpu" for v in values for c in _contexts_in(v)):
        raise _usage(GPU_MESSAGE, where="context", hint="use mx.eia() for the bind and mx.cpu() for arrays")


def _check_context_list(ctx) -> None:
    """A list of contexts is data parallelism: refused when it names the accelerator."""
    if isinstance(ctx, (list, tuple)) and any(is_eia(c) for c in _contexts_in(ctx)):
        raise _usage(MAX_ONE_DEVICE, where="context", hint="bind with the single context mx.eia()")


def _check_one_device(contexts: list, groups) -> None:
    if len(contexts) > 1 or groups or any(c.device_id != 0 for c in contexts):
        raise _usage(MAX_ONE_DEVICE, where="context", hint="bind with the single context mx.eia()")


def _wants_grad(grad_req) -> bool:
    values = grad_req.values() if isinstance(grad_req, dict) else grad_req if isinstance(grad_req, list) else [grad_req]
    return any(v != "null" for v in values)


def _precheck_memory(engine, arg_dict, aux_dict, inputs) -> None:
    """Refuse at bind a model whose params alone exceed the accelerator (EI failed at forward)."""
    nbytes = sum(a.size * np.dtype(a.dtype).itemsize for n, a in arg_dict.items() if n not in inputs)
    nbytes += sum(a.size * np.dtype(a.dtype).itemsize for a in aux_dict.values())
    info = engine.client.hello()
    if nbytes > info.get("memory_bytes", nbytes):
        fit = smallest_fit(nbytes)
        raise ModelTooLarge(f"the model's params need {nbytes / (1 << 20):.1f} MiB; {info.get('size')} holds "
                            f"{info['memory_bytes'] / (1 << 20):.1f} MiB", where=str(info.get("accelerator_id")),
                            hint=f"use {fit} (MXDEPLOY_ACCELERATOR_SIZE={fit})" if fit else "no size holds it")


# -- Symbol --------------------------------------------------------------------------------
def _simple_bind(original, self, ctx, grad_req="write", type_dict=None, stype_dict=None, group2ctx=None,
                 shared_arg_names=None, shared_exec=None, shared_buffer=None, **kwargs):
    _check_no_gpu(ctx, group2ctx)
    _check_context_list(ctx)
    if not is_eia(ctx):
        return original(self, ctx, grad_req=grad_req, type_dict=type_dict, stype_dict=stype_dict,
                        group2ctx=group2ctx, shared_arg_names=shared_arg_names, shared_exec=shared_exec,
                        shared_buffer=shared_buffer, **kwargs)
    _check_one_device([ctx], group2ctx)
    if _wants_grad(grad_req):
        raise _usage(TRAINING_MESSAGE, where="simple_bind", hint="pass grad_req='null'")
    arg_shapes, _, aux_shapes = self.infer_shape(**kwargs)
    if arg_shapes is None or any(s is None for s in arg_shapes):
        raise ValueError("simple_bind: input shapes are incomplete; give the shape of every input")
    arg_types, aux_types = [None] * len(arg_shapes), [None] * len(aux_shapes)
    if type_dict:   # MXNet's simple_bind defaults every type to float32 too
        inferred_args, _, inferred_aux = self.infer_type(**type_dict)
        arg_types, aux_types = inferred_args or arg_types, inferred_aux or aux_types
    shared = shared_exec.arg_dict if isinstance(shared_exec, EIAExecutor) else {}
    arg_dict = OrderedDict()
    for name, shape, dtype in zip(self.list_arguments(), arg_shapes, arg_types):
        old = shared.get(name) if name in (shared_arg_names or ()) else None
        same = old is not None and old.shape == tuple(shape) and np.dtype(old.dtype) == np.dtype(dtype or np.float32)
        arg_dict[name] = old if same else mx.nd.zeros(shape, ctx=mx.cpu(), dtype=dtype or np.float32)
    aux_dict = OrderedDict((n, mx.nd.zeros(s, ctx=mx.cpu(), dtype=t or np.float32))
                           for n, s, t in zip(self.list_auxiliary_states(), aux_shapes, aux_types))
    engine = _engine()
    _precheck_memory(engine, arg_dict, aux_dict, set(kwargs))
    return EIAExecutor(self, ctx, arg_dict, aux_dict, set(kwargs), engine)


def _named(kind: str, names: list[str], given) -> "OrderedDict":
    if given is None:
        given = [] if not names else None
    if given is None:
        raise ValueError(f"bind: {kind} must be given for {names}")
    if isinstance(given, dict):
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError(f"key `{missing[0]}` is missing in `{kind}`")
        items = [(n, given[n]) for n in names]
    else:
        if len(given) != len(names):
            raise ValueError(f"Length of {kind} does not match the number of arguments")
        items = list(zip(names, given))
    for name, array in items:
        if not isinstance(array, mx.nd.NDArray):
            raise TypeError(f"Only accept list of NDArrays or dict of str to NDArray ({name})")
        if array.context.device_type != "cpu":
            raise _usage(f"array '{name}' is on {array.context}: with EIA context arrays live on mx.cpu()",
                         where="bind", hint="create the arrays with ctx=mx.cpu()")
    return OrderedDict(items)


def _bind(original, self, ctx, args, args_grad=None, grad_req="write", aux_states=None, group2ctx=None,
          shared_exec=None):
    _check_no_gpu(ctx, group2ctx)
    _check_context_list(ctx)
    if not is_eia(ctx):
        return original(self, ctx, args, args_grad=args_grad, grad_req=grad_req, aux_states=aux_states,
                        group2ctx=group2ctx, shared_exec=shared_exec)
    _check_one_device([ctx], group2ctx)
    if args_grad is not None:
        raise _usage(TRAINING_MESSAGE, where="bind", hint="drop args_grad: the accelerator runs inference only")
    arg_dict = _named("args", self.list_arguments(), args)
    aux_dict = _named("aux_states", self.list_auxiliary_states(), aux_states)
    engine = _engine()
    _precheck_memory(engine, arg_dict, aux_dict, set())
    return EIAExecutor(self, ctx, arg_dict, aux_dict, set(), engine)


# -- Module --------------------------------------------------------------------------------
def _module_uses_eia(module) -> bool:
    return any(is_eia(c) for c in getattr(module, "_context", []) or [])


def _module_init(original, self, *args, **kwargs):
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    bound.apply_defaults()
    contexts = _contexts_in(bound.arguments["context"])
    groups = bound.arguments.get("group2ctxs")
    _check_no_gpu(contexts, groups)
    if any(is_eia(c) for c in contexts + _contexts_in(groups)):
        _check_one_device(contexts, groups)
    return original(*bound.args, **bound.kwargs)


def _module_bind(original, self, *args, **kwargs):
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    bound.apply_defaults()
    if _module_uses_eia(self) and (bound.arguments["for_training"] or bound.arguments["inputs_need_grad"]):
        raise _usage(TRAINING_MESSAGE, where="Module.bind", hint="call mod.bind(for_training=False, ...)")
    return original(*bound.args, **bound.kwargs)


def _module_inference_only(what: str):
    def guard(original, self, *args, **kwargs):
        if _module_uses_eia(self):
            raise _usage(f"{what} is not supported with EIA context: the accelerator runs inference only",
                         where=f"Module.{what}")
        return original(self, *args, **kwargs)

    return guard


# -- NDArray allocation --------------------------------------------------------------------
def _refuse_allocation(ctx) -> None:
    if is_eia(ctx):
        raise EIAAllocationError(f"cannot allocate an NDArray on {ctx}: with EIA context arrays live on mx.cpu() "
                                 "and move to the accelerator automatically", where="NDArray",
                                 hint="use ctx=mx.cpu(), e.g. mx.nd.array([[1, 2], [3, 4]], ctx=mx.cpu())")


def _new_alloc_handle(original, shape, ctx, delay_alloc, *args, **kwargs):
    _refuse_allocation(ctx)
    return original(shape, ctx, delay_alloc, *args, **kwargs)


def _creator(original, *args, **kwargs):
    bound = inspect.signature(original).bind_partial(*args, **kwargs)
    _refuse_allocation(bound.arguments.get("ctx"))
    return original(*args, **kwargs)


def _gpu(original, device_id=0):
    raise _usage(GPU_MESSAGE, where="mx.gpu()", hint="use mx.eia() for the bind and mx.cpu() for arrays")


# -- install / uninstall -------------------------------------------------------------------
def _patch(owner, name: str, wrapper) -> None:
    original = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name, _MISSING)
    _patches.append((owner, name, original))
    if wrapper is None:
        return
    if original is _MISSING:
        setattr(owner, name, wrapper)
        return

    @functools.wraps(original)
    def patched(*args, **kwargs):
        return wrapper(original, *args, **kwargs)

    setattr(owner, name, patched)


def install() -> None:
    """Apply every patch (once); `import pipeline.eia` calls it."""
    if _patches:
        return
    mx.Context.devtype2str[EIA_DEVTYPE] = "eia"
    mx.Context.devstr2type["eia"] = EIA_DEVTYPE
    _patch(mx, "eia", eia)
    _patch(mx.context, "eia", eia)
    _patch(mx, "gpu", _gpu)
    _patch(mx.context, "gpu", _gpu)
    _patch(mx.symbol.Symbol, "bind", _bind)
    _patch(mx.symbol.Symbol, "simple_bind", _simple_bind)
    _patch(mx.module.Module, "__init__", _module_init)
    _patch(mx.module.Module, "bind", _module_bind)
    for what in ("init_optimizer", "backward", "update"):
        _patch(mx.module.Module, what, _module_inference_only(what))
    _patch(mx.ndarray.ndarray, "_new_alloc_handle", _new_alloc_handle)
    for name in ("zeros", "ones", "full", "empty", "arange"):
        _patch(mx.ndarray, name, _creator)


def uninstall() -> None:
    """Restore MXNet exactly as it was before `install()`."""
    while _patches:
        owner, name, original = _patches.pop()
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    mx.Context.devtype2str.pop(EIA_DEVTYPE, None)
    mx.Context.devstr2type.pop("eia", None)


def installed() -> bool:
    return bool(_patches)


install()
