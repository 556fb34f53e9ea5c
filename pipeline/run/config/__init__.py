"""The pipelines file: safe located YAML -> validated, frozen Config."""
from __future__ import annotations

from pathlib import Path

from pipeline.run.config.model import Config, PipelineSpec, StageSpec
from pipeline.run.config.validate import validate
from pipeline.run.config.yamlsafe import load_located

__all__ = ["Config", "PipelineSpec", "StageSpec", "load_config"]


def load_config(path: str | Path) -> Config:
    """Parse and validate `path`; raises ConfigError listing every problem found.

    Validation reads the registered stages' params: the caller has registered the built-in
    stages (the CLI's entry point does; tests import `stages`); MXDEPLOY_PLUGINS are loaded here.
    """
    from pipeline.core.plugins import load_plugins

    load_plugins()
    path = Path(path)
    located = load_located(path, display=str(path))
    return validate(located, path.resolve())
