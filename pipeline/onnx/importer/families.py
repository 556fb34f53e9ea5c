"""Every converter module, listed once: importing this module fills the registry.

Explicit imports, not `import *` or a directory scan, so the set of converters is visible here
and a module that fails to import fails loudly.
"""
from pipeline.onnx.importer import activation, attention, cast, constant, conv, detection, dft, einsum, elementwise, gather, grid, logical, matmul, norm, pool, quantize, reduce, resize, rnn, rotary, select, sequence, shape, window

MODULES = (activation, attention, cast, constant, conv, detection, dft, einsum, elementwise, gather, grid, logical, matmul, norm,
           pool, quantize, reduce, resize, rnn, rotary, select, sequence, shape, window)
