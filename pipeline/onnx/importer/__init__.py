"""Our ONNX -> MXNet Symbol importer (opsets 7-23).

`import_onnx(path, input_shapes)` returns a ModelBundle whose reference is the original file run
by ONNX Runtime. Converters live one op family per module, all listed in `families`.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.model.bundle import ModelBundle


def import_onnx(path, input_shapes: dict[str, tuple] | None = None, *,
                constants: dict | None = None) -> ModelBundle:
    """Convert the ONNX file at `path` for the declared input shapes (name -> shape).

    `constants` freezes graph inputs to values (name -> array): for inputs that carry what
    MXNet needs as an attribute (axes, a target shape), which ONNX's own tests feed at run time.
    """
    from pipeline.onnx.importer.convert import convert_model
    from pipeline.onnx.importer.onnxfile import read_onnx

    path = Path(path)
    return convert_model(read_onnx(path), path, input_shapes, constants)


__all__ = ["import_onnx"]
