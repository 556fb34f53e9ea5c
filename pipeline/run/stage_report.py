"""One stage's entry in report.json, built in one place for every way a stage can end.

The worker reports a stage that ran, was restored from the cache or was skipped after a
failure; the supervisor reports the stage a dead worker was in and the ones it never reached.
All of them are a `StageReport`, so the fields (and the summary values the stage declares,
`Stage.summary_metrics`) are the same whoever writes the entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.paramspec import to_plain
from pipeline.core.stage import stage_summary


@dataclass
class StageReport:
    name: str
    status: str  # passed | failed | error | skipped | cached
    params: dict = field(default_factory=dict)  # plain (to_plain) params
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    diagnostics: list[dict] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)  # relative to the run directory
    cache: dict | None = None  # {"key", "computed_seconds"} for a cached stage

    @classmethod
    def of(cls, spec, status: str, **fields) -> "StageReport":
        """The report of stage spec `spec` (a StageSpec: name and params)."""
        return cls(spec.name, status, params=to_plain(spec.params), **fields)

    @classmethod
    def skipped(cls, spec) -> "StageReport":
        return cls.of(spec, "skipped")

    def to_dict(self) -> dict:
        entry = {"name": self.name, "status": self.status, "seconds": self.seconds, "metrics": self.metrics,
                 "diagnostics": self.diagnostics, "artifacts": self.artifacts, "params": self.params}
        entry["summary"] = stage_summary(self.name, entry)
        if self.cache is not None:
            entry["cache"] = self.cache
        return entry
