"""Turn a MODEL argument (zoo name, checkpoint prefix or .onnx file) into a ModelBundle.

Used by the commands that take a model directly (`check`, `convert`, `tune`); pipelines use
the source stages, which share these loaders.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import re
import tempfile
from pathlib import Path

from pipeline.model.bundle import ModelBundle, TensorSpec, graph_mxnet_version, range_problem
from pipeline.core.errors import ModelError, MxdeployError, SourceError, UsageError
from pipeline.core.runtime_errors import first_error_line
from pipeline.model import input_casts, zoos
from pipeline.model.zoos import mxnet_vision

_INPUT_ARG = re.compile(r"^([A-Za-z_][\w.\-]*)=(\d+(?:,\d+)*)((?::[^:]+)*)$")
_RANGE_ARG = re.compile(r"^(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\.\.(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)$")
_DYNAMIC_ARG = re.compile(r"^dyn=(\d+(?:,\d+)*)$")
INPUT_ARG_FORM = "NAME=D1,D2,...[:DTYPE][:LOW..HIGH][:int][:batch=AXIS][:dyn=AXIS,...]"
INPUT_ARG_DTYPES = ("float32", "float16", "float64", "int32", "int64", "int8", "uint8")


def parse_input_arg(text: str) -> TensorSpec:
    """`data=1,3,224,224` -> TensorSpec('data', (1, 3, 224, 224)); the options after the dims
    are those of a pipelines file's `inputs:` entry: `data0=2,16:float32:0..30522:int:dyn=1` is
    {shape: [2, 16], dtype: float32, range: [0, 30522], integer: true, dynamic: [1]}."""
    match = _INPUT_ARG.match(text.strip())
    if not match:
        raise UsageError(f"bad --input '{text}'", where="--input",
                         hint=f"write {INPUT_ARG_FORM} with positive integers, e.g. data=1,3,224,224")
    dims = tuple(int(d) for d in match.group(2).split(","))
    if any(d <= 0 for d in dims):
        raise UsageError(f"bad --input '{text}': dimensions must be positive", where="--input",
                         hint="write NAME=D1,D2,... with positive integers")
    fields = {"dtype": "float32", "range": None, "integer": False, "batch_axis": 0, "dynamic": ()}
    for option in filter(None, match.group(3).split(":")):
        _input_option(text, option, fields, len(dims))
    whole = fields["integer"] or fields["dtype"].startswith(("int", "uint"))
    problem = range_problem(list(fields["range"]), fields["dtype"], whole) if fields["range"] else ""
    if problem:
        raise UsageError(f"bad --input '{text}': range {problem}", where="--input",
                         hint="write LOW..HIGH with LOW < HIGH, within what the dtype holds")
    return TensorSpec(match.group(1), dims, **fields)


def _input_option(text: str, option: str, fields: dict, rank: int) -> None:
    """One `:OPTION` of an --input argument, written into `fields`."""
    axes = _DYNAMIC_ARG.match(option)
    value_range = _RANGE_ARG.match(option)
    if option in INPUT_ARG_DTYPES:
        fields["dtype"] = option
    elif option == "int":
        fields["integer"] = True
    elif value_range:
        fields["range"] = tuple(float(v) if any(c in v for c in ".eE") else int(v) for v in value_range.groups())
    elif option.startswith("batch=") and option[6:].isdigit() and int(option[6:]) < rank:
        fields["batch_axis"] = int(option[6:])
    elif axes and all(int(a) < rank for a in axes.group(1).split(",")):
        fields["dynamic"] = tuple(sorted({int(a) for a in axes.group(1).split(",")}))
    else:
        raise UsageError(f"bad --input '{text}': unknown option '{option}'", where="--input",
                         hint=f"write {INPUT_ARG_FORM}; dtypes: {', '.join(INPUT_ARG_DTYPES)}; axes below the "
                              f"rank ({rank})")


ZOO_NAMES = mxnet_vision.NAMES  # MXNet's own vision zoo (the sweeps of zoo.yaml and the memory tests)


def zoo_names() -> list[str]:
    """Every name of every installed zoo (pipeline/model/zoos)."""
    return zoos.zoo_names()


def vision_zoo_names() -> list[str]:
    """MXNet's own vision zoo: what the `gluon-vision-zoo` matrix value stands for."""
    return sorted(ZOO_NAMES)


def default_zoo_inputs(name: str, kwargs: dict | None = None) -> list[TensorSpec]:
    return zoos.find_zoo(name).default_inputs(name, dict(kwargs or {}))


def export_block(block, inputs: list[TensorSpec], folder: Path) -> ModelBundle:
    """Hybridize, run once on the declared inputs and export `block` to a bundle.

    An input declared in a dtype the block does not compute in is traced in the block's dtype
    and cast at the graph's input, so the bundle keeps the declared dtype; such inputs are the
    bundle's only metadata, `metadata["input_casts"]` (pipeline/model/input_casts.py).
    Only a HybridBlock has a symbolic form; a plain Block (imperative `forward`) is refused
    up front, as the Elastic Inference guide required Gluon models to be hybridized and
    exported. A HybridBlock whose hybrid_forward does something only NDArrays can (asnumpy,
    Python control flow on values) fails while tracing; that failure names the block.
    """
    import mxnet as mx
    from mxnet import gluon

    name = type(block).__name__
    if not isinstance(block, gluon.HybridBlock):
        raise SourceError(f"{name} is a plain Gluon Block: it has no symbolic graph to export", where=name,
                          code="SRC101", hint=f"derive {name} from HybridBlock and implement "
                                              f"hybrid_forward(self, F, x, ...) instead of forward")
    prefix = Path(folder) / "export"
    casts: dict[str, str] = {}
    try:
        _trace_and_export(block, inputs, casts, prefix)
    except Exception as exc:  # user code traced symbolically: any exception is the block's, reported with its line
        # A declared dtype the block does not compute in (an int32 valid_length added to float32
        # tensors): traced in the block's dtype with a Cast at the input (pipeline/model/input_casts.py).
        casts = input_casts.planned_casts(block, inputs)
        if not casts or not _retrace(block, inputs, casts, prefix):
            raise SourceError(f"{name} cannot be hybridized and exported: {type(exc).__name__}: "
                              f"{first_error_line(exc)}", where=name, code="SRC102",
                              hint="use only F.* operators in hybrid_forward (no asnumpy, no Python branches on "
                                   "values), and check the declared input shapes and dtypes (an int32 or int64 input "
                                   "the block computes on in float needs a range within 2**24)") from None
    sym, arg_params, aux_params = mx.model.load_checkpoint(str(prefix), 0)
    # Gluon names the exported inputs data / data0, data1, ... ; rename to the declared names.
    exported = [n for n in sym.list_arguments() if n not in arg_params]
    if len(exported) != len(inputs):
        raise ModelError(f"the exported graph has inputs {exported}, but {len(inputs)} were declared",
                         hint="declare one input per argument of the block's forward")
    if exported != [s.name for s in inputs]:
        graph = json.loads(sym.tojson())
        renames = dict(zip(exported, (s.name for s in inputs)))
        for node in graph["nodes"]:
            if node["op"] == "null" and node["name"] in renames:
                node["name"] = renames[node["name"]]
        sym = mx.sym.load_json(json.dumps(graph))
    bundle = ModelBundle.from_symbol(input_casts.cast_inputs(sym, inputs, casts), arg_params, aux_params, inputs)
    if casts:
        bundle.metadata[input_casts.METADATA_KEY] = casts
    return bundle


def _trace_and_export(block, inputs: list[TensorSpec], casts: dict[str, str], prefix: Path) -> None:
    """Hybridize `block`, run it once on zeros (in the traced dtypes) and export it to `prefix`."""
    import mxnet as mx
    import numpy as np

    block.hybridize(static_alloc=False)  # a fresh call also drops the cached graph of a failed trace
    dtypes = input_casts.traced_dtypes(inputs, casts)
    block(*[mx.nd.zeros(s.shape, dtype=np.dtype(d)) for s, d in zip(inputs, dtypes)])
    block.export(str(prefix), epoch=0)


def _retrace(block, inputs: list[TensorSpec], casts: dict[str, str], prefix: Path) -> bool:
    """Whether the block exports with `casts` applied (the caller reports the first failure)."""
    try:
        _trace_and_export(block, inputs, casts, prefix)
    except Exception:  # the block's own failure: the original one is the one reported
        return False
    return True


def zoo_block(name: str, kwargs: dict | None = None, seed: int = 0):
    """A zoo model with random weights (nothing is downloaded), seeded for reproducibility."""
    return zoos.find_zoo(name).build(name, dict(kwargs or {}), seed)


def zoo_bundle_metadata(name: str, bundle: ModelBundle) -> dict:
    """What a bundle built from zoo model `name` records about its source."""
    zoo = zoos.find_zoo(name)
    return {"source": {"kind": "gluon", "model": name, "zoo": zoo.name, "family": zoo.family(name)},
            "mxnet_version": graph_mxnet_version(bundle.symbol_json)}


def load_model(spec: str, inputs: list[TensorSpec] | None = None, *, seed: int = 0) -> ModelBundle:
    """A bundle from a zoo name, a checkpoint prefix (PREFIX-symbol.json), an .onnx file or a
    stage folder of a run (its bundle.json: every file's sha256 is checked)."""
    path = Path(spec)
    if (path / "bundle.json").is_file():
        return ModelBundle.load(path)
    if spec.endswith(".onnx"):
        from pipeline.onnx.load import load_onnx

        return load_onnx(path, {s.name: s.shape for s in inputs or []})
    if Path(f"{spec}-symbol.json").is_file():
        return load_checkpoint(spec, 0, inputs or [])
    if zoos.has_model(spec):
        inputs = inputs or default_zoo_inputs(spec)
        block = zoo_block(spec, seed=seed)
        init = zoos.find_zoo(spec).calibrate(spec, block, inputs, seed)
        with tempfile.TemporaryDirectory() as tmp:
            bundle = export_block(block, inputs, Path(tmp))
        bundle.metadata.update(zoo_bundle_metadata(spec, bundle))
        if init:
            bundle.metadata["source"]["init"] = init
        return bundle
    raise UsageError(f"'{spec}' is not a zoo name, a checkpoint prefix or an .onnx file",
                     where=spec, hint="give a model zoo name (resnet18_v1), PREFIX for PREFIX-symbol.json, or X.onnx")


def load_checkpoint(prefix: str, epoch: int, inputs: list[TensorSpec]) -> ModelBundle:
    """Load PREFIX-symbol.json + PREFIX-EPOCH.params; legacy graphs go through MXNet's upgrader.

    A graph saved before MXNet 1.0 (no `mxnet_version` attr, or one below 1.0) is upgraded by
    MXNet's own legacy_json_util when loaded ("Loading symbol saved by previous version ...");
    the upgrade is recorded in the bundle's history and `metadata["mxnet_version"]` keeps the
    saved version (None when the file did not say), which is what the version rule checks.
    """
    from pipeline.model.labels import label_variables
    from pipeline.model import params_file as params_loader
    from pipeline.model.symbol_json import load_symbol

    sym_path = Path(f"{prefix}-symbol.json")
    params_path = Path(f"{prefix}-{epoch:04d}.params")
    for p in (sym_path, params_path):
        if not p.is_file():
            raise ModelError("checkpoint file not found", where=str(p),
                             hint="give the prefix without -symbol.json and the right epoch")
    # Validate both files before native code reads either (pipeline/loaders).
    sym, _graph, raw = load_symbol(sym_path)
    saved_version = graph_mxnet_version(raw)
    layout = params_loader.read_params_file(params_path)
    arg_shapes, aux_shapes = params_loader.checkpoint_params(params_path, layout)
    labels = set(label_variables(sym.tojson()))
    if not inputs:
        free = [n for n in sym.list_arguments() if n not in arg_shapes]
        raise UsageError(f"checkpoint '{prefix}' needs input shapes for {', '.join(free)}",
                         where=str(sym_path), hint="pass --input NAME=D1,D2,... for each")
    _check_checkpoint_names(sym, arg_shapes, aux_shapes, inputs, sym_path, params_path)
    params_loader.check_against_graph(sym, str(params_path), arg_shapes, aux_shapes,
                                      {s.name: s.shape for s in inputs}, labels)
    loaded = params_loader.load_arrays(params_path)
    arg_params = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
    aux_params = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
    bundle = ModelBundle.from_symbol(sym, arg_params, aux_params, inputs)
    bundle.metadata.update({"source": {"kind": "checkpoint", "prefix": str(Path(prefix).resolve()), "epoch": epoch},
                            "mxnet_version": saved_version})
    if saved_version is None or saved_version < 10000:
        bundle.history.append({
            "stage": "upgrade",
            "from": format_mxnet_version(saved_version),
            "to": format_mxnet_version(graph_mxnet_version(bundle.symbol_json)),
            "note": "legacy (pre-1.0) symbol JSON upgraded by MXNet's legacy_json_util",
        })
    return bundle


def format_mxnet_version(version: int | None) -> str:
    """10901 -> '1.9.1'; None (no mxnet_version attr) -> MXNet's own assumption for such files."""
    if version is None:
        return "unrecorded (MXNet assumes v0.8.0)"
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"


def _check_checkpoint_names(sym, arg_params, aux_params, inputs, sym_path: Path, params_path: Path) -> None:
    """Declared inputs must be graph arguments, and every other argument needs a param."""
    from pipeline.model.labels import label_variables

    arguments = sym.list_arguments()
    declared = [s.name for s in inputs]
    unknown = [n for n in declared if n not in arguments]
    free = [n for n in arguments if n not in arg_params]
    if unknown:
        raise ModelError(f"declared input(s) {', '.join(unknown)} are not arguments of the graph",
                         where=str(sym_path), code="MDL004",
                         hint=f"the graph's arguments without params are: {', '.join(free) or 'none'}")
    labels = set(label_variables(sym.tojson()))
    missing = [n for n in free if n not in declared and n not in labels]
    missing += [n for n in sym.list_auxiliary_states() if n not in aux_params]
    if missing:
        raise ModelError(f"the params file has no value for {', '.join(missing)}", where=str(params_path),
                         code="MDL005", hint="declare them as inputs, or give the params file of this epoch")


_FACTORY = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")


def is_factory_spec(text: str) -> bool:
    """`pkg.module:callable`, the only form a config may name code in."""
    return bool(_FACTORY.match(text))


def import_factory(spec: str, config_dir: Path):
    """Import `pkg.module:callable` with the pipelines file's folder first on sys.path.

    This is the only import mxdeploy ever does on a config's behalf; sys.path is restored
    afterwards so one pipeline's folder does not leak into the next.
    """
    import importlib
    import sys

    match = _FACTORY.match(spec)
    if not match:
        raise SourceError(f"factory '{spec}' is not of the form pkg.module:callable", where=spec, code="SRC103",
                          hint="write the module path, a colon, and the function that returns the Block")
    module_name, attr = match.groups()
    folder = str(Path(config_dir).resolve())
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SourceError(f"cannot import factory module '{module_name}': {exc}", where=spec, code="SRC103",
                          hint=f"put {module_name.replace('.', '/')}.py beside the pipelines file ({folder})") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    _check_factory_origin(module, module_name, spec, folder)
    func = getattr(module, attr, None)
    if callable(func) and not (inspect.isfunction(func) or inspect.isclass(func)):
        raise SourceError(f"'{attr}' in '{module_name}' is a {type(func).__name__}, not a Python function or class",
                          where=spec, code="SRC106", hint="name a function (or HybridBlock class) written in Python")
    if not callable(func):
        raise SourceError(f"module '{module_name}' has no callable '{attr}'", where=spec, code="SRC103",
                          hint=f"define {attr}(**kwargs) returning a HybridBlock in {module.__file__}")
    return func


def _stdlib_dirs() -> list[Path]:
    import sysconfig

    return [Path(sysconfig.get_paths()[k]).resolve() for k in ("stdlib", "platstdlib")]


def _check_factory_origin(module, module_name: str, spec: str, folder: str) -> None:
    """A factory comes from the pipelines file's folder or an installed package, never Python's stdlib.

    The spec regex already refuses file paths, absolute paths and `..`; this refuses modules
    such as `subprocess:getoutput` or `os:system`, which would turn kwargs into a shell command.
    """
    import sys

    top = module_name.split(".")[0]
    file = getattr(module, "__file__", None)
    if top in sys.stdlib_module_names or file is None:
        raise SourceError(f"factory module '{module_name}' is part of Python itself, not a model factory",
                          where=spec, code="SRC106",
                          hint=f"put the factory in a module beside the pipelines file ({folder}) or in an "
                               f"installed package")
    origin = Path(file).resolve()
    if origin.is_relative_to(Path(folder)) or "site-packages" in origin.parts or "dist-packages" in origin.parts:
        return
    if any(origin.is_relative_to(d) for d in _stdlib_dirs()):
        raise SourceError(f"factory module '{module_name}' is part of Python itself, not a model factory",
                          where=spec, code="SRC106", hint=f"put the factory beside the pipelines file ({folder})")


def build_block(*, model: str | None = None, factory: str | None = None, kwargs: dict | None = None,
                config_dir: Path | None = None, params: Path | None = None, seed: int = 0):
    """The Gluon block a `gluon` source names, with weights: loaded from `params`, else seeded random.

    Shared by the source stage and the gluon reference, so both build the very same network.
    """
    import mxnet as mx
    from mxnet import gluon

    kwargs = dict(kwargs or {})
    if model is not None:
        block = zoo_block(model, kwargs, seed=seed)
        where = model
    else:
        mx.random.seed(seed)
        try:
            make = import_factory(factory, config_dir or Path.cwd())
            with mx.name.NameManager():  # a fresh counter: param names do not depend on earlier blocks
                block = make(**kwargs)
        except MxdeployError:
            raise
        except Exception as exc:  # the user's factory raised: report it as a source error, with its line
            raise SourceError(f"factory '{factory}' raised {type(exc).__name__}: {first_error_line(exc)}",
                              where=factory, code="SRC103", hint="fix the factory or its kwargs") from None
        where = factory
    if not isinstance(block, gluon.Block):
        raise SourceError(f"'{where}' returned a {type(block).__name__}, not a Gluon Block", where=where,
                          code="SRC103", hint="return a mxnet.gluon.HybridBlock instance")
    if params is not None:
        from pipeline.model.params_file import read_params_file

        read_params_file(params)  # the byte layout first: MXNet trusts every length in the file
        try:
            block.load_parameters(str(params), ctx=mx.cpu())
        except (mx.MXNetError, AssertionError, ValueError, KeyError) as exc:
            raise SourceError(f"cannot load {Path(params).name} into {type(block).__name__}: "
                              f"{first_error_line(exc)}", where=str(params), code="SRC105",
                              hint="the params file must come from save_parameters of the same network") from None
    else:
        _initialize_missing(block)
    return block


def _initialize_missing(block) -> None:
    """Xavier-initialize parameters the factory left uninitialized (zoo blocks are already).

    Reads Parameter._data / _deferred_init: MXNet 1.9.1 is the last release, so these are
    frozen, and calling initialize() on an initialized block only warns and skips it.
    """
    import mxnet as mx

    for p in block.collect_params().values():
        if p._data is None and not p._deferred_init:
            p.initialize(default_init=mx.init.Xavier(magnitude=2.0), ctx=mx.cpu())
