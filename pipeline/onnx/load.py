"""Open an ONNX file as a ModelBundle: the validated reader (pipeline/onnx/importer/onnxfile.py), then the importer.

Errors name the file: the importer's name a node or tensor, MXNet's refusals of the converted
graph become ONNX-coded errors.
"""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.runtime_errors import first_error_line
from pipeline.onnx.importer import errors
from pipeline.onnx.importer.onnxfile import read_onnx

__all__ = ["load_onnx", "read_onnx"]


def _with_file(exc, path: Path):
    """Importer errors name a node or tensor; the user also needs the file."""
    shown = str(path)
    if shown not in (exc.where or ""):
        exc.where = f"{shown}: {exc.where}" if exc.where else shown
    return exc


def load_onnx(path: str | os.PathLike, input_shapes: dict | None = None, *, constants: dict | None = None):
    """Validate, then convert with the importer: the only way mxdeploy opens an ONNX file as a bundle.

    `input_shapes` declares input shapes (name -> shape). `constants` freezes graph inputs to
    values (name -> array): for inputs that carry what MXNet needs as an attribute (axes, a
    target shape), which ONNX's own tests feed at run time.
    """
    from pipeline.onnx.importer.convert import convert_model

    from pipeline.core.errors import MxdeployError

    path = Path(path)
    model = read_onnx(path)
    import mxnet as mx

    try:
        return convert_model(model, path, input_shapes, constants)
    except MxdeployError as exc:
        raise _with_file(exc, path) from None
    except mx.MXNetError as exc:  # e.g. a type clash the file declares (float input, int32 weight)
        raise errors.OnnxImportError(
            f"MXNet rejects the converted graph: {first_error_line(exc)[:300]}", code=errors.MXNET_REJECTED,
            where=str(path), hint="the model's types or shapes do not fit together: check the file and the "
                                  "declared input shapes") from None
