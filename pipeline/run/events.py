"""Progress events of a run, typed: what the runner, the executors and the workers tell an observer.

A worker sends its events to its supervisor as JSON lines (`to_line` / `from_line`); the
executors pass them on to the observer (the progress view) as these objects, never as
positional tuples, so a reader sees which field is which.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import ClassVar, Union


@dataclass(frozen=True)
class RunStart:
    kind: ClassVar[str] = "run_start"
    cells: int


@dataclass(frozen=True)
class PipelineStart:
    kind: ClassVar[str] = "pipeline_start"
    pipeline: str
    stages: int  # the source and every listed stage


@dataclass(frozen=True)
class StageStart:
    kind: ClassVar[str] = "stage_start"
    pipeline: str
    index: int
    stage: str


@dataclass(frozen=True)
class StageEnd:
    kind: ClassVar[str] = "stage_end"
    pipeline: str
    index: int
    report: dict  # the stage's report.json entry (pipeline/run/stage_report.py)


@dataclass(frozen=True)
class PipelineEnd:
    kind: ClassVar[str] = "pipeline_end"
    pipeline: str
    status: str


Event = Union[RunStart, PipelineStart, StageStart, StageEnd, PipelineEnd]
EVENT_TYPES: dict[str, type] = {cls.kind: cls for cls in (RunStart, PipelineStart, StageStart, StageEnd, PipelineEnd)}


def to_line(event: Event) -> str:
    return json.dumps({"event": event.kind, **asdict(event)})


def from_line(line: bytes | str) -> Event | None:
    """The event of one JSON line; None for a line that is not one (torn by a killed worker)."""
    try:
        data = json.loads(line)
        return EVENT_TYPES[data.pop("event")](**data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
