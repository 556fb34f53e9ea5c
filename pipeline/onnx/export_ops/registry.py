"""The registry our export converters register in (a separate file: the op modules import it)."""
from pipeline.core.registry import Registry

EXPORT_OPS: Registry = Registry("export converter")


def helpers():
    """mx2onnx's own node helpers: (get_inputs, get_input_dtypes, create_tensor)."""
    from mxnet.onnx.mx2onnx._op_translations._op_translations_opset12 import (create_tensor, get_input_dtypes,
                                                                              get_inputs)

    return get_inputs, get_input_dtypes, create_tensor
