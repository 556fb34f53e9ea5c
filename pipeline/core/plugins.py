"""Plugins: extra modules that register stages (or targets, references) on import.

`MXDEPLOY_PLUGINS` names importable modules, comma-separated. They are imported after
`import stages` by the config loader (so validation knows their stages) and by every worker
(so the stages exist where they run). An environment variable, not a config key, because the
worker processes — local or on a Dask cluster — inherit it without any plumbing, and because
a pipelines file must not be able to make the tool import arbitrary code.
"""
from __future__ import annotations

import importlib
import os

from pipeline.core.errors import MxdeployError

ENV_VAR = "MXDEPLOY_PLUGINS"


class PluginError(MxdeployError):
    """A plugin module named in MXDEPLOY_PLUGINS that cannot be imported."""

    code = "PLG001"


def plugin_names(value: str | None = None) -> list[str]:
    raw = os.environ.get(ENV_VAR, "") if value is None else value
    return [name.strip() for name in raw.split(",") if name.strip()]


def load_plugins() -> list[str]:
    """Import every plugin module (idempotent: Python imports a module once per process)."""
    names = plugin_names()
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"cannot import plugin module '{name}': {exc}", where=ENV_VAR,
                              hint="fix the module name or put its folder on PYTHONPATH") from None
    return names
