"""Our own ONNX translations for MXNet ops, used in place of (or beside) mx2onnx's.

One op family per file; each converter has mx2onnx's signature `(node, **kwargs) -> [NodeProto]`
and registers in EXPORT_OPS under the MXNet op name. `installed(opset)` puts them into
mx2onnx's registry for the duration of one export (under a lock) and restores it afterwards,
so the converter module itself is never changed for other callers.
"""
from __future__ import annotations

import contextlib
import threading

from pipeline.onnx.export_ops.registry import EXPORT_OPS
from pipeline.onnx.export_ops import detection  # noqa: F401  (registers box_nms)
from pipeline.onnx.export_ops import multibox  # noqa: F401  (registers MultiBoxDetection)
from pipeline.onnx.export_ops import pooling  # noqa: F401  (registers AdaptiveAvgPooling2D)
from pipeline.onnx.export_ops import proposal  # noqa: F401  (registers Proposal, MultiProposal)
from pipeline.onnx.export_ops import roi_align  # noqa: F401  (registers ROIAlign)
from pipeline.onnx.export_ops import repeat  # noqa: F401  (registers repeat)
from pipeline.onnx.export_ops import resize  # noqa: F401  (registers BilinearResize2D)

_LOCK = threading.Lock()

__all__ = ["EXPORT_OPS", "installed", "op_names"]


def op_names() -> frozenset[str]:
    return frozenset(EXPORT_OPS.names())


@contextlib.contextmanager
def installed(opset: int):
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph

    with _LOCK:
        table = MXNetGraph.registry_.setdefault(opset, {})
        saved = {name: table.get(name) for name in EXPORT_OPS.names()}
        for name in EXPORT_OPS.names():
            table[name] = EXPORT_OPS.get(name)
        try:
            yield
        finally:
            for name, func in saved.items():
                if func is None:
                    table.pop(name, None)
                else:
                    table[name] = func
