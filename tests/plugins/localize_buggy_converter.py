"""Test-only plugin (MXDEPLOY_PLUGINS=localize_buggy_converter): an injected ONNX importer bug.

It registers a GlobalAveragePool converter for opset 13, a version the importer leaves free
(it has 1 and 22), so models at opset 13..21 pick it: it pools with max instead of average, the
kind of slip a converter author makes. tests/localize/test_converter_bug.py checks that
`pipeline compare model.onnx model.onnx@cpu --localize` names that node. Loaded only in a child
process, so the registry of the test process is never changed.
"""
from __future__ import annotations

from pipeline.onnx.importer.registry import converter


@converter("GlobalAveragePool", since=13)
def buggy_global_average_pool(node, ctx):
    import mxnet as mx

    return mx.sym.Pooling(ctx.input(0), kernel=(1, 1), global_pool=True, pool_type="max", name=ctx.name)
