"""`onednn`: MXNet's executor on a graph fused by MXNet's oneDNN (MKLDNN) subgraph backend.

Deploying fuses the bundle with `optimize_for('MKLDNN', ...)` (pipeline/graph/onednn_fusion.py, which fails
loudly when nothing fuses) unless the bundle is already fused by an optimize stage.
Note that MXNet 1.9.1's MKLDNN build also fuses at bind time by default
(MXNET_SUBGRAPH_BACKEND defaults to MKLDNN); this target makes the fused graph explicit, so
it can be inspected, saved and verified, and does not depend on that environment variable.
"""
from __future__ import annotations

from types import MappingProxyType

from pipeline.model.bundle import ModelBundle
from pipeline.graph import bundle_from_graph, graph_of
from pipeline.model.runtime_modules import ensure_runtime_modules
from pipeline.graph.onednn_fusion import fuse, is_fused
from pipeline.targets.base import register_target
from pipeline.targets.cpu import MXNetExecutorTarget


@register_target
class OneDnnTarget(MXNetExecutorTarget):
    name = "onednn"
    summary = "MXNet executor on the oneDNN-fused graph (optimize_for('MKLDNN'))"
    tune = MappingProxyType({"fp32": {}, "bf16": {}, "int8": {}})

    @classmethod
    def is_available(cls) -> bool:
        import mxnet as mx

        return bool(mx.runtime.Features().is_enabled("MKLDNN"))

    @staticmethod
    def fused(bundle: ModelBundle) -> ModelBundle:
        """The bundle with its graph oneDNN-fused (unchanged if it already is)."""
        graph, params = graph_of(bundle)
        if is_fused(graph):
            return bundle
        new_graph, new_params = fuse(graph, params, bundle.inputs)
        return bundle_from_graph(bundle, new_graph, new_params, stage="deploy", details={"fused": "onednn"})

    def _deploy_impl(self, bundle: ModelBundle) -> None:
        ensure_runtime_modules(bundle)
        self.fused_bundle = self.fused(bundle)
        super()._deploy_impl(self.fused_bundle)
