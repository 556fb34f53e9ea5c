"""The `onnxruntime` reference: the original ONNX file, run by ONNX Runtime on the same feed.

ONNX Runtime is the independent implementation of ONNX, so a converted model is compared with
what its authors' file computes, not with our own reading of it. Graph optimizations stay at
the basic level (constant folding, no fusions) to keep the reference's arithmetic plain.
Feeds arrive as the bundle declares them; a scalar input the bundle carries as (1,) is given
back its rank 0, frozen inputs are fed their frozen values and unused inputs zeros.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import ModelError
from pipeline.core.runtime_errors import runtime_call
from pipeline.model.references import Reference, register_reference

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int32)": np.int32,
              "tensor(int64)": np.int64, "tensor(bool)": np.bool_, "tensor(int16)": np.int16}


@register_reference
class OnnxRuntimeReference(Reference):
    kind = "onnxruntime"
    runtime = "onnxruntime"

    def _session(self):
        import onnxruntime as ort

        if getattr(self, "_sess", None) is None:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.log_severity_level = 3
            with runtime_call("onnxruntime", "to open the reference model", code="ONNX110", error=ModelError,
                              where=self.spec["path"],
                              hint="check that the file exists and ONNX Runtime supports its opsets; the source "
                                   "ONNX file is the reference, so ONNX Runtime has to run it"):
                self._sess = ort.InferenceSession(self.spec["path"], options, providers=["CPUExecutionProvider"])
        return self._sess

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        sess = self._session()
        frozen = {k: np.array(v["value"], dtype=v["dtype"]) for k, v in self.spec.get("frozen_inputs", {}).items()}
        unused = {s["name"]: s for s in self.spec.get("unused_inputs", [])}
        full = {}
        for info in sess.get_inputs():
            dtype = _ORT_TYPES.get(info.type, np.float32)
            if info.name in frozen:
                full[info.name] = frozen[info.name].astype(dtype)
            elif info.name in feed:
                value = np.asarray(feed[info.name]).astype(dtype)
                if len(info.shape) == 0 and value.size == 1:
                    value = value.reshape(())
                full[info.name] = value
            elif info.name in unused:
                full[info.name] = np.zeros(unused[info.name]["shape"], dtype=dtype)
        return [np.asarray(o) for o in sess.run(None, full)]
