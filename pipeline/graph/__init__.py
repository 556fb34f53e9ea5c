"""The networkx graph view of an MXNet Symbol that optimization passes and partitioning use."""
from pipeline.graph.bundle_io import bundle_from_graph, graph_of
from pipeline.graph.convert import GraphError, from_json, to_json, topo_order
from pipeline.graph.execute import random_feed, run_bundle
from pipeline.graph.param_store import ParamStore

__all__ = ["GraphError", "ParamStore", "bundle_from_graph", "from_json", "graph_of",
           "random_feed", "run_bundle", "to_json", "topo_order"]
