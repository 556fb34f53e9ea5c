"""Whether an optional third-party package can be used here: the one probe zoos and targets share."""
from __future__ import annotations

import importlib


def importable(module: str) -> bool:
    """True when `module` imports (not only when it is found: a package that is installed but
    breaks on import, e.g. built against another numpy, is as unavailable as a missing one)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
