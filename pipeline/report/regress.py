"""Regressions between two runs: a cell whose status got worse, or whose p50 latency grew.

Pure functions over two report.json documents, matched by cell name. `passed` and `cached`
count as the same (a cached stage is a passed one). Improvements are listed too, but only
regressions make `pipeline report --baseline` exit 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.report.markdown import OK_STATUSES, cell_row


@dataclass(frozen=True)
class Change:
    cell: str
    kind: str  # status | latency | missing | new
    before: str
    after: str
    regression: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _ok(status: str) -> bool:
    return status in OK_STATUSES


def compare_runs(baseline: dict, current: dict, *, latency_threshold: float = 0.2) -> list[Change]:
    """Every status and latency change of `current` against `baseline`, regressions first."""
    before = {p["name"]: cell_row(p) for p in baseline["pipelines"]}
    after = {p["name"]: cell_row(p) for p in current["pipelines"]}
    changes: list[Change] = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            changes.append(Change(name, "missing", old["status"], "absent", _ok(old["status"])))
            continue
        if _ok(old["status"]) != _ok(new["status"]) or (not _ok(new["status"]) and old["status"] != new["status"]):
            worse = _ok(old["status"]) and not _ok(new["status"])
            changes.append(Change(name, "status", old["status"], new["status"], worse))
        p_old, p_new = old["p50_ms"], new["p50_ms"]
        if isinstance(p_old, (int, float)) and isinstance(p_new, (int, float)) and p_old > 0:
            ratio = p_new / p_old - 1.0
            if abs(ratio) > latency_threshold:
                changes.append(Change(name, "latency", f"{p_old:.3f} ms", f"{p_new:.3f} ms ({ratio:+.0%})",
                                      ratio > 0))
    for name, new in after.items():
        if name not in before:
            changes.append(Change(name, "new", "absent", new["status"], False))
    return sorted(changes, key=lambda c: (not c.regression, c.cell, c.kind))
