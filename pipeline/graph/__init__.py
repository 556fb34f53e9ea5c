"""The networkx graph view of an MXNet Symbol that optimization passes and partitioning use."""
from pipeline.graph.bundle_io import bundle_from_graph, graph_of
from pipeline.graph.convert import GraphError, from_json, to_json, topo_order
from pipeline.graph.execute import Comparison, compare, random_feed, run_bundle
from pipeline.graph.param_store import ParamStore

__all__ = ["Comparison", "GraphError", "ParamStore", "bundle_from_graph", "compare", "from_json", "graph_of",
           "random_feed", "run_bundle", "to_json", "topo_order"]
