"""Deployment targets. Each module below registers its targets on import; listed explicitly."""
from pipeline.targets import cpu  # noqa: F401  (registers cpu)
from pipeline.targets import eia  # noqa: F401  (registers eia1.*, eia2.*)
from pipeline.targets.base import TARGETS, Target

__all__ = ["TARGETS", "Target", "target_names"]


def target_names() -> list[str]:
    return TARGETS.names()
