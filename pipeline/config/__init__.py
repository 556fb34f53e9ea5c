"""The pipelines file: safe located YAML -> validated, frozen Config."""
from __future__ import annotations

from pathlib import Path

from pipeline.config.model import Config, PipelineSpec, StageSpec
from pipeline.config.validate import validate
from pipeline.config.yamlsafe import load_located

__all__ = ["Config", "PipelineSpec", "StageSpec", "load_config"]


def load_config(path: str | Path) -> Config:
    """Parse and validate `path`; raises ConfigError listing every problem found."""
    import stages  # noqa: F401  (registers every stage before validation reads their params)
    from pipeline.plugins import load_plugins

    load_plugins()  # MXDEPLOY_PLUGINS: stages registered outside the stages package

    path = Path(path)
    located = load_located(path, display=str(path))
    return validate(located, path.resolve())
