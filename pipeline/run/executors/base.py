"""The executor registry (kept apart from the executors so each module can register itself)."""
from __future__ import annotations

from typing import Callable

from pipeline.core.registry import Registry

EXECUTORS: Registry[Callable] = Registry("executor")
