"""The validated form of a pipelines file: plain, frozen, picklable data for the workers."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.model.bundle import TensorSpec


@dataclass(frozen=True)
class StageSpec:
    """One stage as configured: its registered name, built params and the raw mapping."""

    name: str
    params: Any
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline, or one cell of a matrix pipeline."""

    name: str
    source: StageSpec
    inputs: tuple[TensorSpec, ...]
    stages: tuple[StageSpec, ...]
    config_dir: Path
    accelerator: dict = field(default_factory=dict)
    timeout: float | None = None
    template: str = ""
    matrix_values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path
    pipelines: tuple[PipelineSpec, ...]

    def select(self, names: list[str]) -> tuple[PipelineSpec, ...]:
        """Pipelines (or whole matrix families) named in `names`, in file order."""
        if not names:
            return self.pipelines
        wanted = set(names)
        return tuple(p for p in self.pipelines if p.name in wanted or p.template in wanted)
