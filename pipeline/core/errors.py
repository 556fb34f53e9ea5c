"""One exception family for every failure a user can cause.

Each error carries a stable code (documented in docs/errors.md and never reused), what is
wrong, where (a file with line:col, a node or tensor name) and how to fix it. Internal bugs
raise `InternalError`, which is deliberately not a subclass: the CLI shows those with a
traceback and asks for a bug report.
"""
from __future__ import annotations


class MxdeployError(Exception):
    """A failure caused by the user's input, reported as one line."""

    code = "MXD000"

    def __init__(self, message: str, *, where: str = "", hint: str = "", code: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint
        if code is not None:
            self.code = code

    def one_line(self) -> str:
        """`where: CODE message (hint)`: the form the CLI prints."""
        parts = []
        if self.where:
            parts.append(f"{self.where}:")
        parts.append(f"{self.code} {self.message}")
        text = " ".join(parts)
        if self.hint:
            text += f" (fix: {self.hint})"
        return text

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "where": self.where, "hint": self.hint}

    def __reduce__(self):
        # Keep errors picklable across worker processes with their keyword-only fields.
        return (_rebuild_error, (type(self), self.message, self.where, self.hint, self.code))


def _rebuild_error(cls, message, where, hint, code):
    return cls(message, where=where, hint=hint, code=code)


class ConfigError(MxdeployError):
    """A pipelines file that does not parse or validate (exit 2)."""

    code = "CFG000"

    def __init__(self, errors: list["ConfigIssue"]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.message, where=first.where, code=first.code)

    def lines(self) -> list[str]:
        return [e.one_line() for e in self.errors]

    def __reduce__(self):
        return (ConfigError, (self.errors,))


class ConfigIssue(MxdeployError):
    """One validation problem in a pipelines file; printed as `FILE:LINE:COL: message`."""

    code = "CFG001"

    def one_line(self) -> str:
        text = f"{self.where}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return f"{text} [{self.code}]"


class UsageError(MxdeployError):
    """Bad command-line usage (exit 2)."""

    code = "CLI001"


class BundleError(MxdeployError):
    """A model bundle that is missing, tampered with or inconsistent."""

    code = "BND001"


class ModelError(MxdeployError):
    """A model file (symbol JSON, params, ONNX) that cannot be loaded as given."""

    code = "MDL001"


class SourceError(MxdeployError):
    """A model source (Gluon block, checkpoint, ONNX file) that cannot be imported."""

    code = "SRC001"


class StageError(MxdeployError):
    """A stage that cannot do its job with the bundle and parameters it was given."""

    code = "STG001"


class TargetError(MxdeployError):
    """A deployment target that refuses the model or the request."""

    code = "TGT001"


class ExportError(MxdeployError):
    """A bundle that cannot be exported to ONNX as given."""

    code = "EXP100"


class UnknownNameError(MxdeployError):
    """A name looked up in a registry that does not hold it."""

    code = "REG001"


class InternalError(Exception):
    """A bug in mxdeploy itself, never the user's fault."""
