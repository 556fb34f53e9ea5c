"""A test-only target in one file (loaded via MXDEPLOY_PLUGINS): MXNet's executor under another name.

It declares int8 and registers MXNet's int8 quantizer for itself, so it should reach quantize's
target choices and tune's candidates without any other file naming it.
"""
from __future__ import annotations

from types import MappingProxyType

from pipeline.precision.catalog import QUANTIZERS, key
from pipeline.targets.base import register_target
from pipeline.targets.cpu import MXNetExecutorTarget


@register_target
class ExtraTarget(MXNetExecutorTarget):
    name = "extra_cpu"
    summary = "test target: MXNet's executor, registered by a plugin"
    precisions = frozenset({"fp32", "int8"})
    formats = frozenset({"symbol", "mxnet-int8"})
    tune = MappingProxyType({"fp32": {}, "int8": {"api": "symbol"}})


QUANTIZERS.register(key("int8", ExtraTarget.name), QUANTIZERS.get(key("int8", "cpu")))
