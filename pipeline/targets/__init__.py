"""Deployment targets. Each module below registers its targets on import; listed explicitly."""
from pipeline.targets import cpu  # noqa: F401  (registers cpu)
from pipeline.targets import elastic_inference as eia  # noqa: F401  (registers eia1.*, eia2.*)
from pipeline.targets import onednn  # noqa: F401  (registers onednn)
from pipeline.targets import onnxruntime  # noqa: F401  (registers onnxruntime)
from pipeline.targets import openvino  # noqa: F401  (registers openvino)
from pipeline.targets.base import TARGETS, Target

__all__ = ["TARGETS", "Target", "target_names"]


def target_names() -> list[str]:
    return TARGETS.names()
