"""Coded errors of the ONNX importer (ONNX1xx, documented in docs/errors.md).

All are `SourceError`s: the model or the declared shapes are the cause, so the CLI prints one
line and exits 2.
"""
from __future__ import annotations

from pipeline.errors import SourceError

UNSUPPORTED_OPS = "ONNX101"
UNREADABLE = "ONNX102"
DYNAMIC_INPUT = "ONNX103"
UNKNOWN_INPUT = "ONNX104"
DYNAMIC_VALUE = "ONNX105"
UNSUPPORTED_ATTR = "ONNX106"
BAD_SHAPE = "ONNX107"
UNSUPPORTED_TYPE = "ONNX108"
MXNET_REJECTED = "ONNX109"


class OnnxImportError(SourceError):
    """A model the importer cannot turn into an MXNet Symbol as given."""

    code = UNSUPPORTED_OPS
