"""Names of things in a run directory, shared by the runner, the executors and the reports."""
from __future__ import annotations

import re


def pipeline_folder(name: str) -> str:
    """A filesystem-safe folder for a pipeline or matrix cell name."""
    return re.sub(r"[^A-Za-z0-9_.=,-]", "_", name.replace("[", "__").replace("]", ""))
