"""Validate a located pipelines document into a Config, collecting every problem at once.

Nothing here touches a model: the whole file is checked before any worker starts, and every
error names the file, line and column, the pipeline and the field, and what was expected.
"""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.model.bundle import TensorSpec, range_problem
from pipeline.run.config import matrix as mx_matrix
from pipeline.run.config.files import CODE, missing_files
from pipeline.run.config.model import Config, PipelineSpec, StageSpec
from pipeline.run.config.yamlsafe import Located
from pipeline.core.errors import ConfigError, ConfigIssue
from pipeline.core.paramspec import build_params
from pipeline.core.registry import did_you_mean
from pipeline.core.stage import STAGES, source_stage_names, transform_stage_names

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DTYPES = ("float32", "float16", "float64", "int32", "int64", "int8", "uint8")
INPUT_KEYS = ("shape", "dtype", "range", "integer", "batch_axis", "dynamic")
TOP_KEYS = ("version", "defaults", "pipelines")
PIPELINE_KEYS = ("source", "inputs", "stages", "matrix", "accelerator", "timeout")
DEFAULTABLE_KEYS = ("inputs", "accelerator", "timeout")
SHAPELESS_SOURCES = ("onnx",)  # an ONNX file carries its own static input shapes


class _Collector:
    """Gathers issues with positions from the located document."""

    def __init__(self, located: Located):
        self.located = located
        self.issues: list[ConfigIssue] = []
        self._seen: set[tuple] = set()

    def add(self, path: tuple, message: str, code: str, *, key: bool = False, hint: str = "",
            pipeline: str | None = None) -> None:
        where = self.located.where(path, key=key)
        text = f"pipeline '{pipeline}': {message}" if pipeline else message
        marker = (where, code, message)
        if marker in self._seen:  # matrix cells share a template: report each place once
            return
        self._seen.add(marker)
        self.issues.append(ConfigIssue(text, where=where, code=code, hint=hint))


def _describe(value) -> str:
    """A short rendering of a YAML value for a message: scalars as written, collections by kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return repr(value)
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _field_path(parts: tuple) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate(located: Located, config_path: Path) -> Config:
    col = _Collector(located)
    doc = located.data
    if not isinstance(doc, dict):
        col.add((), f"expected a mapping with 'version' and 'pipelines', got {_describe(doc)}", "CFG013")
        raise ConfigError(col.issues)
    for key in doc:
        if key not in TOP_KEYS:
            col.add((key,), f"unknown top-level key '{key}'{did_you_mean(key, TOP_KEYS)}", "CFG005", key=True,
                    hint=f"expected: {', '.join(TOP_KEYS)}")
    if doc.get("version") != 1:
        col.add(("version",), f"version: expected 1, got {_describe(doc.get('version'))}", "CFG012",
                hint="start the file with 'version: 1'")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        col.add(("defaults",), f"defaults: expected a mapping, got {_describe(defaults)}", "CFG004")
        defaults = {}
    _check_defaults(col, defaults)
    pipelines = doc.get("pipelines")
    specs: list[PipelineSpec] = []
    if not isinstance(pipelines, dict) or not pipelines:
        col.add(("pipelines",), "pipelines: expected a non-empty mapping of name -> pipeline", "CFG006",
                hint="add at least one pipeline under 'pipelines:'")
    else:
        for name, body in pipelines.items():
            specs.extend(_pipeline(col, str(name), body, defaults, config_path.parent))
    if col.issues:
        raise ConfigError(col.issues)
    return Config(config_path, tuple(specs))


def _check_defaults(col: _Collector, defaults: dict) -> None:
    stage_names = STAGES.names()
    for key, value in defaults.items():
        path = ("defaults", key)
        if key in DEFAULTABLE_KEYS:
            continue
        if key not in stage_names:
            choices = list(DEFAULTABLE_KEYS) + stage_names
            col.add(path, f"defaults.{key}: unknown key{did_you_mean(key, choices)}", "CFG005", key=True,
                    hint=f"defaults take {', '.join(DEFAULTABLE_KEYS)} or a stage name with default params")
        elif not isinstance(value, dict):
            col.add(path, f"defaults.{key}: expected a mapping of parameters, got {_describe(value)}", "CFG004")


def _pipeline(col: _Collector, name: str, body, defaults: dict, config_dir: Path) -> list[PipelineSpec]:
    base = ("pipelines", name)
    if not NAME_RE.match(name):
        col.add(base, f"bad pipeline name '{name}'", "CFG010", key=True,
                hint="use lowercase letters, digits, '_', '.', '-' and start with a letter or digit")
    if not isinstance(body, dict):
        col.add(base, f"expected a mapping with source, inputs and stages, got {_describe(body)}", "CFG004",
                pipeline=name)
        return []
    for key in body:
        if key not in PIPELINE_KEYS:
            col.add(base + (key,), f"unknown key '{key}'{did_you_mean(key, PIPELINE_KEYS)}", "CFG005", key=True,
                    pipeline=name, hint=f"a pipeline takes: {', '.join(PIPELINE_KEYS)}")
    grid = body.get("matrix")
    if grid is None:
        return _cell(col, name, name, body, {}, defaults, config_dir)
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
        col.add(base + ("matrix",), "matrix: expected a mapping of variable -> non-empty list of values", "CFG011",
                pipeline=name)
        return []
    template = {k: v for k, v in body.items() if k != "matrix"}
    unknown = mx_matrix.variables_used(template) - set(grid)
    if unknown:
        col.add(base, f"uses ${{{sorted(unknown)[0]}}} but the matrix defines only: {', '.join(grid)}", "CFG011",
                key=True, pipeline=name, hint="add the variable to matrix: or fix its name")
        return []
    out = []
    for values in mx_matrix.cells(grid):
        cell_body = mx_matrix.substitute(template, values, set())
        out.extend(_cell(col, mx_matrix.cell_name(name, values), name, cell_body, values, defaults, config_dir))
    return out


def _cell(col, name, template, body, values, defaults, config_dir) -> list[PipelineSpec]:
    base = ("pipelines", template)
    before = len(col.issues)
    source = _source(col, name, base, body.get("source"), config_dir)
    inputs = _inputs(col, name, base, body.get("inputs", defaults.get("inputs")),
                     required=source is not None and not _declares_own_shapes(source),  # no cascade from a bad source
                     from_defaults="inputs" not in body)
    stages = _stages(col, name, base, body.get("stages", []), defaults, config_dir)
    accelerator = body.get("accelerator", defaults.get("accelerator", {})) or {}
    if not isinstance(accelerator, dict) or set(accelerator) - {"address"}:
        col.add(base + ("accelerator",), "accelerator: expected a mapping with 'address: HOST:PORT'", "CFG004",
                pipeline=name)
    timeout = body.get("timeout", defaults.get("timeout"))
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        col.add(base + ("timeout",), f"timeout: expected a positive number of seconds, got {_describe(timeout)}",
                "CFG004", pipeline=name)
    if len(col.issues) > before or source is None:
        return []
    return [PipelineSpec(name=name, source=source, inputs=tuple(inputs), stages=tuple(stages),
                         config_dir=config_dir, accelerator=dict(accelerator),
                         timeout=float(timeout) if timeout is not None else None,
                         template=template, matrix_values=dict(values))]


def _source(col, name, base, source, config_dir: Path) -> StageSpec | None:
    path = base + ("source",)
    kinds = source_stage_names()
    if source is None:
        col.add(base, f"source: missing (expected one of: {', '.join(kinds)})", "CFG006", key=True, pipeline=name,
                hint="add 'source: {gluon: {model: resnet18_v1}}' or a checkpoint/onnx source")
        return None
    if not isinstance(source, dict) or len(source) != 1:
        found = ", ".join(source) if isinstance(source, dict) and source else _describe(source)
        col.add(path, f"source: expected exactly one of {', '.join(kinds)}, got {found}", "CFG007", pipeline=name,
                hint="keep one source kind per pipeline")
        return None
    (kind, raw), = source.items()
    if kind not in kinds:
        col.add(path + (kind,), f"source: unknown kind '{kind}'{did_you_mean(kind, kinds)}", "CFG007", key=True,
                pipeline=name, hint=f"expected one of: {', '.join(kinds)}")
        return None
    return _build_stage(col, name, path + (kind,), f"source.{kind}", kind, raw or {}, {}, config_dir)


def _declares_own_shapes(source: StageSpec) -> bool:
    """ONNX files carry static input shapes; a zoo model has the zoo's default input."""
    return source.name in SHAPELESS_SOURCES or (source.name == "gluon" and bool(getattr(source.params, "model", None)))


def _inputs(col, name, base, inputs, *, required: bool, from_defaults: bool) -> list[TensorSpec]:
    path = ("defaults", "inputs") if from_defaults else base + ("inputs",)
    if inputs is None:
        if required:
            col.add(base, "inputs: missing; declare each input's shape, e.g. data: {shape: [1, 3, 224, 224]}",
                    "CFG006", key=True, pipeline=name)
        return []
    if not isinstance(inputs, dict) or not inputs:
        col.add(path, f"inputs: expected a mapping of name -> {{shape, dtype}}, got {_describe(inputs)}", "CFG008",
                pipeline=name)
        return []
    specs = []
    for input_name, spec in inputs.items():
        built = _input(col, name, path + (input_name,), str(input_name), spec)
        if built is not None:
            specs.append(built)
    return specs


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _input(col, name, ipath, input_name, spec) -> TensorSpec | None:
    """One `inputs:` entry: {shape, dtype, range: [low, high), integer, batch_axis, dynamic: [axes]}."""
    import numpy as np

    label = f"inputs.{input_name}"
    if not isinstance(spec, dict) or "shape" not in spec:
        col.add(ipath, f"{label}: expected {{shape: [..], dtype: ..}}", "CFG008", pipeline=name)
        return None
    for key in spec:
        if key not in INPUT_KEYS:
            col.add(ipath + (key,), f"{label}.{key}: unknown key{did_you_mean(key, INPUT_KEYS)}", "CFG005",
                    key=True, pipeline=name, hint=f"an input takes: {', '.join(INPUT_KEYS)}")
    shape, dtype = spec["shape"], spec.get("dtype", "float32")
    if not isinstance(shape, list) or not shape or not all(_is_int(d) and d > 0 for d in shape):
        col.add(ipath + ("shape",), f"{label}.shape: expected a list of positive integers, "
                                    f"got {_describe(shape) if not isinstance(shape, list) else shape}",
                "CFG008", pipeline=name,
                hint="give the static shape to serve (mark axes that vary with dynamic: [axes])")
        return None
    if dtype not in DTYPES:
        col.add(ipath + ("dtype",), f"{label}.dtype: unknown dtype {_describe(dtype)}{did_you_mean(dtype, DTYPES)}",
                "CFG008", pipeline=name, hint=f"expected one of: {', '.join(DTYPES)}")
        return None
    before = len(col.issues)
    integer = spec.get("integer", False)
    if not isinstance(integer, bool):
        col.add(ipath + ("integer",), f"{label}.integer: expected true or false, got {_describe(integer)}",
                "CFG008", pipeline=name)
    whole = integer is True or np.issubdtype(np.dtype(dtype), np.integer)
    value_range = spec.get("range")
    if value_range is not None:
        problem = range_problem(value_range, dtype, whole)
        if problem:
            col.add(ipath + ("range",), f"{label}.range: {problem}", "CFG008", pipeline=name,
                    hint="write range: [low, high) with low < high, within what the dtype holds")
    batch_axis = spec.get("batch_axis", 0)
    if not _is_int(batch_axis) or not 0 <= batch_axis < len(shape):
        col.add(ipath + ("batch_axis",), f"{label}.batch_axis: expected an axis of the shape (0..{len(shape) - 1}), "
                                         f"got {_describe(batch_axis)}", "CFG008", pipeline=name)
    dynamic = spec.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(_is_int(a) and 0 <= a < len(shape) for a in dynamic) \
            or len(set(dynamic)) != len(dynamic):
        col.add(ipath + ("dynamic",), f"{label}.dynamic: expected a list of distinct axes of the shape "
                                      f"(0..{len(shape) - 1}), got {_describe(dynamic) if not isinstance(dynamic, list) else dynamic}",
                "CFG008", pipeline=name, hint="e.g. dynamic: [0] for the batch, [1] for a (batch, seq) sequence axis")
    if len(col.issues) > before:
        return None
    return TensorSpec(input_name, tuple(shape), dtype, range=tuple(value_range) if value_range is not None else None,
                      integer=integer, batch_axis=batch_axis, dynamic=tuple(sorted(dynamic)))


def _stages(col, name, base, stages, defaults, config_dir: Path) -> list[StageSpec]:
    path = base + ("stages",)
    if not isinstance(stages, list):
        col.add(path, f"stages: expected a list of {{stage: {{params}}}} items, got {_describe(stages)}", "CFG004",
                pipeline=name)
        return []
    names = transform_stage_names()
    out = []
    for i, item in enumerate(stages):
        ipath = path + (i,)
        if isinstance(item, str):
            stage_name, raw = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            (stage_name, raw), = item.items()
            raw = raw if raw is not None else {}
        else:
            col.add(ipath, f"stages[{i}]: expected one 'stage_name: {{params}}' item, got {_describe(item)}",
                    "CFG004", pipeline=name)
            continue
        if stage_name not in names:
            hint = (f"'{stage_name}' is a source: put it under 'source:'" if stage_name in source_stage_names()
                    else f"known stages: {', '.join(names)}")
            col.add(ipath + (stage_name,) if isinstance(item, dict) else ipath,
                    f"stages[{i}]: unknown stage '{stage_name}'{did_you_mean(stage_name, names)}", "CFG009",
                    key=isinstance(item, dict), pipeline=name, hint=hint)
            continue
        built = _build_stage(col, name, ipath + (stage_name,), f"stages[{i}].{stage_name}", stage_name, raw,
                             defaults.get(stage_name) or {}, config_dir)
        if built is not None:
            out.append(built)
    return out


def _build_stage(col, name, path, label, stage_name, raw, stage_defaults, config_dir: Path) -> StageSpec | None:
    cls = STAGES.get(stage_name)
    if not isinstance(raw, dict):
        col.add(path, f"{label}: expected a mapping of parameters, got {_describe(raw)}", "CFG004", pipeline=name)
        return None
    merged = {**(stage_defaults if isinstance(stage_defaults, dict) else {}), **raw}
    params, issues = build_params(cls.Params, merged)
    if params is not None:
        issues = cls.check_params(params)
    for issue in issues:
        from_default = bool(issue.path) and issue.path[0] not in raw and issue.path[0] in merged
        where = ("defaults", stage_name) + tuple(issue.path) if from_default else path + tuple(issue.path)
        is_key = issue.code == "CFG005"
        field = _field_path(issue.path)
        col.add(where, f"{label}{'.' + field if field else ''}: {issue.message}", issue.code, key=is_key,
                pipeline=name)
    if issues:
        return None
    for field_path, problem in missing_files(params, config_dir):
        from_default = field_path[0] not in raw and field_path[0] in merged
        where = ("defaults", stage_name) + field_path if from_default else path + field_path
        col.add(where, f"{label}.{_field_path(field_path)}: {problem}", CODE,
                pipeline=name, hint="fix the path (relative paths resolve against the pipelines file's folder)")
    return StageSpec(stage_name, params, dict(merged))
