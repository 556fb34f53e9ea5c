"""EI1xx version: the graph must not be newer than the MXNet runtime that will execute it.

The guide: "a model trained on MXNet version >= MXNet_EIA version results in undefined
behavior". MXNet records the saving version in the symbol JSON (`attrs.mxnet_version`);
graphs from before 1.0 have none and are rewritten by MXNet's legacy upgrader on load.
"""
from __future__ import annotations

from pipeline.core.diagnostics import Diagnostic
from pipeline.checks.subject import CheckSubject, rule


def version_text(version: int) -> str:
    """10901 -> '1.9.1' (MXNet's MXNET_VERSION encoding: major*10000 + minor*100 + patch)."""
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"


@rule("version")
def check_version(subject: CheckSubject) -> list[Diagnostic]:
    saved = subject.saved_mxnet_version
    runtime = subject.target.runtime_mxnet_version
    if saved is None:
        return [Diagnostic(
            "EI102", "info",
            "the graph records no MXNet version (saved before MXNet 1.0); MXNet's legacy upgrader "
            "rewrote it on load",
            hint="re-export it with MXNet 1.9.1 (`pipeline convert PREFIX NEWPREFIX`) to skip the upgrade")]
    if saved > runtime:
        return [Diagnostic(
            "EI101", "error",
            f"graph saved by MXNet {version_text(saved)}, newer than the runtime of target "
            f"'{subject.target.name}' (MXNet {version_text(runtime)}): undefined behaviour",
            hint=f"re-export the model with MXNet {version_text(runtime)} or older")]
    return []
