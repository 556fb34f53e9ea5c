"""`pipeline validate` checks that every file a pipeline references exists and is readable.

A stage's params declare which fields name something on disk (`param(..., path=KIND)`,
pipeline/core/paramspec.py): the checkpoint prefix (both PREFIX-symbol.json and
PREFIX-EPOCH.params), the ONNX file, a Gluon factory's module, params files, datasets,
images, labels, calibration folders. A missing one used to surface only when its worker ran,
minutes into a run; here it is a FILE:LINE:COL error (CFG016) before anything starts. Nothing
is opened beyond a read probe and nothing is imported: a factory's module is found by its file.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from pathlib import Path

CODE = "CFG016"


def _resolve(value: str, config_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config_dir / path


def _readable_file(path: Path) -> str:
    """'' when `path` is a readable file, else what is wrong with it."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    if not os.access(path, os.R_OK):
        return f"{path} is not readable"
    return ""


def _check_file(value: str, config_dir: Path, params) -> str:
    return _readable_file(_resolve(value, config_dir))


def _check_dir(value: str, config_dir: Path, params) -> str:
    path = _resolve(value, config_dir)
    if not path.is_dir():
        return f"{path} is not a folder" if path.exists() else f"{path} does not exist"
    return "" if os.access(path, os.R_OK | os.X_OK) else f"{path} is not readable"


def _check_file_or_dir(value: str, config_dir: Path, params) -> str:
    path = _resolve(value, config_dir)
    return _check_dir(value, config_dir, params) if path.is_dir() else _readable_file(path)


def _check_checkpoint(value: str, config_dir: Path, params) -> str:
    prefix = _resolve(value, config_dir)
    epoch = getattr(params, "epoch", 0)
    for path in (Path(f"{prefix}-symbol.json"), Path(f"{prefix}-{int(epoch):04d}.params")):
        problem = _readable_file(path)
        if problem:
            return f"checkpoint file {problem}"
    return ""


def _check_module(value: str, config_dir: Path, params) -> str:
    """`pkg.module:callable`: the module's file under the pipelines file's folder or sys.path."""
    module = value.split(":", 1)[0]
    if not module or module.startswith("."):
        return ""  # malformed: the param's own check reports it
    parts = module.split(".")
    for root in [config_dir, *[Path(p) for p in sys.path if p]]:
        base = root.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return ""
    try:
        found = importlib.util.find_spec(parts[0])  # a top-level name only: nothing is imported
    except (ImportError, ValueError):
        found = None
    if found is not None and (len(parts) == 1 or found.submodule_search_locations):
        if len(parts) == 1:
            return ""
        for location in found.submodule_search_locations or ():
            base = Path(location).joinpath(*parts[1:])
            if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file() or \
                    any(base.parent.glob(f"{base.name}.*.so")):
                return ""
    return f"module '{module}' is not a file under {config_dir} (looked for {'/'.join(parts)}.py)"


CHECKS = {"file": _check_file, "dir": _check_dir, "file_or_dir": _check_file_or_dir,
          "checkpoint": _check_checkpoint, "module": _check_module}


def missing_files(params, config_dir: Path, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """[(field path, problem)] for every path-valued field of `params` (recursively) that is set."""
    out = []
    if not dataclasses.is_dataclass(params):
        return out
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        kind = f.metadata.get("path")
        if kind and isinstance(value, str) and value and "${" not in value:
            problem = CHECKS[kind](value, Path(config_dir), params)
            if problem:
                out.append((prefix + (f.name,), problem))
        elif dataclasses.is_dataclass(value):
            out.extend(missing_files(value, config_dir, prefix + (f.name,)))
    return out
