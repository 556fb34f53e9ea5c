"""Diagnostics: coded findings about a model, reported by stages and `pipeline check`."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a stable code, a severity, what, which node, and how to fix it."""

    code: str
    severity: Severity
    message: str
    node: str = ""
    hint: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Diagnostic":
        return cls(**{k: data.get(k, "") for k in ("code", "severity", "message", "node", "hint")})

    def one_line(self) -> str:
        where = f" [{self.node}]" if self.node else ""
        hint = f" (fix: {self.hint})" if self.hint else ""
        return f"{self.severity}: {self.code}{where} {self.message}{hint}"


def has_errors(diagnostics) -> bool:
    return any(d.severity == "error" for d in diagnostics)
