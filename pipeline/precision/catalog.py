"""Every quantizer module, listed once: importing this module fills QUANTIZERS.

Explicit imports (not a directory scan), so the set of quantizers is visible here; the
registry itself lives in pipeline/precision/quantizers.py, which the modules below import.
"""
from pipeline.precision import mxnet_bf16, mxnet_int8, nncf_int8, onnx_int8, openvino_bf16  # noqa: F401
from pipeline.precision.quantizers import QUANTIZERS, QuantizeJob, key, quantizer_keys

__all__ = ["QUANTIZERS", "QuantizeJob", "key", "quantizer_keys"]
