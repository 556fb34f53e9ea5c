"""Typed stage parameters: frozen dataclasses read by the validator, `pipeline stages` and docs.

A stage declares `Params` as a frozen dataclass; each field's metadata carries its help text.
`build_params` turns the YAML mapping into that dataclass, collecting every problem with the
dotted path of the field it concerns, so the config loader can point at the YAML line.
Supported field types: str, int, float, bool, Optional[X], list[X], dict[str, X],
Literal[...], nested frozen dataclasses and `Annotated[str, OneOf(...)]` for names that live
in a registry (targets, passes).
"""
from __future__ import annotations

import dataclasses
import types
from dataclasses import MISSING, dataclass, field
from typing import Any, Annotated, Callable, Literal, Union, get_args, get_origin, get_type_hints

from pipeline.core.registry import did_you_mean


# What a path-valued field names (`param(..., path=KIND)`), checked by `pipeline validate`
# (pipeline/run/config/files.py): a file, a folder, either, a checkpoint prefix (with the
# sibling field `epoch`), or a factory's `pkg.module:callable`.
PATH_KINDS = ("file", "dir", "file_or_dir", "checkpoint", "module")


def param(default: Any = MISSING, help: str = "", *, factory: Callable[[], Any] | None = None, path: str = ""):
    """A dataclass field with help text; `factory` for mutable defaults; `path` (one of
    PATH_KINDS) when the value names something on disk that must exist before anything runs."""
    if path and path not in PATH_KINDS:
        raise ValueError(f"unknown path kind {path!r}; expected one of {PATH_KINDS}")
    metadata = {"help": help, **({"path": path} if path else {})}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OneOf:
    """Annotated marker: the string must be one of the names `choices()` returns."""

    choices: Callable[[], list[str]]
    kind: str


@dataclass(frozen=True)
class ParamIssue:
    """A problem with one field, at a path relative to the params mapping, with a config code."""

    path: tuple
    message: str
    code: str = "CFG004"  # wrong type or value; CFG005 unknown key; CFG006 missing; CFG014 unknown name


@dataclass(frozen=True)
class NoParams:
    """For stages that take no parameters."""


def describe_type(tp) -> str:
    """A short human name of a field type, for `pipeline stages` and messages."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *marks = get_args(tp)
        for mark in marks:
            if isinstance(mark, OneOf):
                return mark.kind
        return describe_type(base)
    if origin is Literal:
        return " | ".join(repr(a) if not isinstance(a, str) else a for a in get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        inner = " | ".join(describe_type(a) for a in args)
        return f"{inner} (optional)" if len(args) < len(get_args(tp)) else inner
    if origin is list:
        return f"list of {describe_type(get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of {describe_type(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}.get(tp, str(tp))


def _type_name(value) -> str:
    return repr(value) if isinstance(value, str) else type(value).__name__ if value is not None else "null"


def _coerce(value, tp, path: tuple, issues: list[ParamIssue]):
    """Check `value` against `tp`; return the converted value or record an issue."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        base, *marks = get_args(tp)
        out = _coerce(value, base, path, issues)
        for mark in marks:
            if isinstance(mark, OneOf) and isinstance(out, str):
                names = mark.choices()
                if out not in names:
                    issues.append(ParamIssue(path, f"unknown {mark.kind} '{out}'{did_you_mean(out, names)}; "
                                                   f"expected one of: {', '.join(names)}", "CFG014"))
        return out
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            issues.append(ParamIssue(path, f"expected one of {', '.join(map(str, allowed))}, got {_type_name(value)}"
                                           f"{did_you_mean(value, allowed)}"))
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, path, issues)
    if origin is list:
        (item_tp,) = get_args(tp)
        if not isinstance(value, list):
            issues.append(ParamIssue(path, f"expected a list, got {_type_name(value)}"))
            return value
        return tuple(_coerce(v, item_tp, path + (i,), issues) for i, v in enumerate(value))
    if origin is dict:
        _, val_tp = get_args(tp)
        if not isinstance(value, dict):
            issues.append(ParamIssue(path, f"expected a mapping, got {_type_name(value)}"))
            return value
        return {str(k): _coerce(v, val_tp, path + (k,), issues) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            issues.append(ParamIssue(path, f"expected a mapping, got {_type_name(value)}"))
            return value
        return _build(tp, value, path, issues)
    if tp is bool:
        if not isinstance(value, bool):
            issues.append(ParamIssue(path, f"expected true or false, got {_type_name(value)}"))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            issues.append(ParamIssue(path, f"expected an integer, got {_type_name(value)}"))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            issues.append(ParamIssue(path, f"expected a number, got {_type_name(value)}"))
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            issues.append(ParamIssue(path, f"expected a string, got {_type_name(value)}"))
        return value
    raise TypeError(f"unsupported parameter type {tp!r}")


def _build(cls, values: dict, path: tuple, issues: list[ParamIssue]):
    hints = get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs, misspelt = {}, set()
    for key, value in values.items():
        if key not in fields:
            suggestion = did_you_mean(key, fields)
            issues.append(ParamIssue(path + (key,), f"unknown parameter '{key}'{suggestion}; "
                                                    f"expected one of: {', '.join(fields) or 'none'}", "CFG005"))
            misspelt.update(n for n in fields if suggestion == f" (did you mean '{n}'?)")
            continue
        kwargs[key] = _coerce(value, hints[key], path + (key,), issues)
    for name, f in fields.items():
        # a required parameter given under a misspelt name is one problem, said once (CFG005's did-you-mean)
        if name not in kwargs and name not in misspelt and f.default is MISSING and f.default_factory is MISSING:
            issues.append(ParamIssue(path + (name,), f"missing required parameter '{name}' "
                                                     f"({describe_type(hints[name])})", "CFG006"))
    if any(i.path[: len(path)] == path for i in issues):
        return None
    return cls(**kwargs)


def build_params(cls, values: dict | None) -> tuple[Any, list[ParamIssue]]:
    """Build a params dataclass from a mapping; returns (params or None, issues)."""
    issues: list[ParamIssue] = []
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return None, [ParamIssue((), f"expected a mapping of parameters, got {_type_name(values)}")]
    built = _build(cls, values, (), issues)
    return (None if issues else built), issues


def spec_rows(cls) -> list[dict]:
    """[{name, type, default, required, help}] for each field: drives `pipeline stages` and docs."""
    hints = get_type_hints(cls, include_extras=True)
    rows = []
    for f in dataclasses.fields(cls):
        required = f.default is MISSING and f.default_factory is MISSING
        default = None if required else (f.default if f.default is not MISSING else f.default_factory())
        rows.append({"name": f.name, "type": describe_type(hints[f.name]), "required": required,
                     "default": default, "help": f.metadata.get("help", "")})
    return rows


def to_plain(obj) -> Any:
    """A params dataclass as plain JSON data (tuples become lists): for hashing and reports."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


