"""The coded errors of `pipeline compare` and localization (docs/errors.md, LOCxxx)."""
from __future__ import annotations

from pipeline.core.errors import MxdeployError


class LocalizeError(MxdeployError):
    """Bad usage of compare/localize: an unknown target, different inputs, nothing to match."""

    code = "LOC001"


UNKNOWN_TARGET = "LOC001"
DIFFERENT_INPUTS = "LOC002"
NO_MATCHES = "LOC003"
BAD_REPRO = "LOC004"
RUNTIME_FAILED = "LOC006"
UNTAPPABLE = "LOC007"
