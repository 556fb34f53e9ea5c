"""onednn_fuse: MXNet's oneDNN subgraph fusion (see pipeline/graph/onednn_fusion.py for why it checks)."""
from __future__ import annotations

from pipeline.graph.onednn_fusion import fuse
from pipeline.graph.passes.base import register_pass


@register_pass("onednn_fuse", "MXNet oneDNN (MKLDNN) subgraph fusion; fails if nothing fused")
def onednn_fuse(graph, params, inputs):
    return fuse(graph, params, inputs)
