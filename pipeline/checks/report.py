"""The check result as one plain object: what `pipeline check --json` prints and check.json holds.

Shape (DESIGN.md): {"model", "target", "diagnostics": [{code, severity, message, node, hint}],
"memory": {"bytes": N, "smallest_fit": "eia1.large" | null}}. `bytes` is what the accelerator
holds: params + inputs + activations, summed over every input shape served (one model copy
per shape); null when it cannot be estimated.
"""
from __future__ import annotations

from dataclasses import replace

from pipeline.core.diagnostics import Diagnostic
from pipeline.targets.sizes import smallest_fit
from pipeline.checks.memory_fit import required_bytes
from pipeline.checks.operators import unsupported_ops
from pipeline.checks.subject import CheckSubject, run_rules


def strict(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Warnings become errors (info stays info)."""
    return [replace(d, severity="error") if d.severity == "warning" else d for d in diagnostics]


def check(subject: CheckSubject, *, strict_mode: bool = False) -> list[Diagnostic]:
    diagnostics = run_rules(subject)
    return strict(diagnostics) if strict_mode else diagnostics


def memory_summary(subject: CheckSubject) -> dict:
    needed = required_bytes(subject)
    return {"bytes": needed, "smallest_fit": smallest_fit(needed) if needed is not None else None}


def check_report(model: str, subject: CheckSubject, diagnostics: list[Diagnostic]) -> dict:
    return {"model": model, "target": subject.target.name,
            "diagnostics": [d.to_dict() for d in diagnostics],
            "memory": memory_summary(subject)}


def unsupported_count(subject: CheckSubject) -> int:
    return sum(len(names) for names in unsupported_ops(subject).values())
