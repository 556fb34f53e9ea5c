"""Coded errors of the ONNX importer (ONNX1xx, documented in docs/errors.md).

All are `SourceError`s: the model or the declared shapes are the cause, so the CLI prints one
line and exits 2.
"""
from __future__ import annotations

from pipeline.core.errors import SourceError

UNSUPPORTED_OPS = "ONNX101"
UNREADABLE = "ONNX102"
DYNAMIC_INPUT = "ONNX103"
UNKNOWN_INPUT = "ONNX104"
DYNAMIC_VALUE = "ONNX105"
UNSUPPORTED_ATTR = "ONNX106"
BAD_SHAPE = "ONNX107"
UNSUPPORTED_TYPE = "ONNX108"
MXNET_REJECTED = "ONNX109"
DATA_DEPENDENT = "ONNX115"  # a padded NonMaxSuppression selection reaches an inexact consumer


class OnnxImportError(SourceError):
    """A model the importer cannot turn into an MXNet Symbol as given."""

    code = UNSUPPORTED_OPS


class DynamicValueError(OnnxImportError):
    """A value MXNet needs as an attribute (axes, a shape, pads) is only known at run time.

    `tensor` names the ONNX tensor, so a caller may freeze that graph input to a constant.
    """

    code = DYNAMIC_VALUE

    def __init__(self, tensor: str, message: str, **kwargs):
        super().__init__(message, **kwargs)
        self.tensor = tensor

    def __reduce__(self):
        return (_rebuild_dynamic, (self.tensor, self.message, self.where, self.hint, self.code))


def _rebuild_dynamic(tensor, message, where, hint, code):
    return DynamicValueError(tensor, message, where=where, hint=hint, code=code)
