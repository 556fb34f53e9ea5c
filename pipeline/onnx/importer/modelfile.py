"""Reading the parts of a parsed ONNX model: opsets, nodes, tensors, value types, inferred shapes.

The file itself is read by pipeline/onnx/importer/onnxfile.py (the one reader, with the
external-data checks). ONNX's shape inference only adds rank and dtype hints here; a failure
there is recorded, not fatal.
"""
from __future__ import annotations


import numpy as np

from pipeline.core.runtime_errors import first_error_line
from pipeline.onnx.importer import errors
from pipeline.onnx.importer.registry import OnnxNode, normalize_domain


def opsets(model) -> dict[str, int]:
    return {normalize_domain(o.domain): int(o.version) for o in model.opset_import}


def np_dtype(elem_type: int, where: str) -> np.dtype:
    """numpy dtype of an ONNX element type; types MXNet cannot hold raise ONNX108."""
    import onnx

    supported = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                 onnx.TensorProto.INT8, onnx.TensorProto.UINT8,
                 onnx.TensorProto.INT32, onnx.TensorProto.INT64, onnx.TensorProto.BOOL}
    if elem_type not in supported:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() \
            else str(elem_type)
        raise errors.OnnxImportError(f"element type {name} has no MXNet equivalent", code=errors.UNSUPPORTED_TYPE,
                                     where=where, hint="MXNet 1.9.1 holds float16/32/64, int8/32/64, uint8 and bool")
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def tensor_value(tensor, where: str) -> np.ndarray:
    from onnx import numpy_helper

    np_dtype(tensor.data_type, where)
    return np.array(numpy_helper.to_array(tensor))


def _attr_value(attr, where: str):
    import onnx

    value = onnx.helper.get_attribute_value(attr)
    if attr.type == onnx.AttributeProto.TENSOR:
        return tensor_value(value, where)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value


def read_node(proto) -> OnnxNode:
    where = proto.name or (proto.output[0] if proto.output else proto.op_type)
    return OnnxNode(op_type=proto.op_type, domain=normalize_domain(proto.domain), name=proto.name,
                    inputs=tuple(proto.input), outputs=tuple(proto.output),
                    attrs={a.name: _attr_value(a, where) for a in proto.attribute})


def value_type(value_info) -> tuple[int | None, tuple | None]:
    """(elem_type, dims) of a ValueInfoProto; dims are ints, or None for symbolic/unknown ones."""
    t = value_info.type
    if not t.HasField("tensor_type"):
        return None, None
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return tt.elem_type, None
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    return tt.elem_type, dims


def inferred_info(model, declared: dict[str, tuple[int, ...]]) -> tuple[dict, str]:
    """tensor -> (np.dtype|None, dims|None) from ONNX shape inference with the declared shapes."""
    import onnx

    work = onnx.ModelProto()
    work.CopyFrom(model)
    del work.graph.value_info[:]
    for inp in work.graph.input:
        if inp.name in declared and inp.type.HasField("tensor_type"):
            shape = inp.type.tensor_type.shape
            shape.Clear()
            for d in declared[inp.name]:
                shape.dim.add().dim_value = int(d)
    note = ""
    try:
        work = onnx.shape_inference.infer_shapes(work, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - inference is only a hint; record why it is missing
        note = f"ONNX shape inference failed ({type(exc).__name__}: {first_error_line(exc)[:200]})"
    info = {}
    for vi in list(work.graph.value_info) + list(work.graph.output) + list(work.graph.input):
        elem, dims = value_type(vi)
        try:
            dtype = np_dtype(elem, vi.name) if elem else None
        except errors.OnnxImportError:
            dtype = None
        info[vi.name] = (dtype, dims)
    return info, note
