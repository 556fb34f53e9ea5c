"""EI4xx hybridization: accelerators run Symbol graphs, so a Gluon model must be exported.

The guide: EI does not support imperative mode or un-hybridized Gluon; Gluon models are
hybridized and exported to Symbol first. The gluon source stage does that export and fails
with SRC101 (the block is not a HybridBlock) or SRC102 (hybridize/export failed) when it
cannot (docs/diagnostics.md lists them under this family). What a check can still see is a
bundle whose source says it is Gluon but records that it was not hybridized and exported;
bundles from a source stage that records nothing about it are not guessed at.
"""
from __future__ import annotations

from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, rule


@rule("hybridization")
def check_hybridized(subject: CheckSubject) -> list[Diagnostic]:
    source = subject.source
    if source.get("kind") != "gluon":
        return []
    flags = {k: source[k] for k in ("hybridized", "exported") if k in source}
    if any(v is False for v in flags.values()):
        missing = " and ".join(k for k, v in flags.items() if v is False)
        return [Diagnostic(
            "EI401", "error",
            f"the Gluon source of this bundle was not {missing}: accelerators run Symbol graphs only, "
            "not imperative Gluon code",
            hint="make the model a HybridBlock; the gluon source hybridizes and exports it")]
    return []
