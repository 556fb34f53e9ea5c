"""The custom-op modules a bundle's graph needs before MXNet can bind it.

A partitioned bundle's graph holds subgraph nodes that are MXNet CustomOps; their Python
module must be imported in every process that binds the graph (a worker, a fresh `pipeline`
process, the accelerator server). The bundle names them in metadata["runtime_modules"].
"""
from __future__ import annotations

from pipeline.core.errors import BundleError
from pipeline.model.bundle import ModelBundle

# Modules a bundle may name in metadata["runtime_modules"] (custom ops its graph uses). Only
# these are imported: a name read from a model file is never imported as given.
RUNTIME_MODULES = frozenset({"pipeline.partition.runtime", "pipeline.accelerator.subgraph_engine"})


def ensure_runtime_modules(bundle: ModelBundle) -> None:
    """Import the known runtime modules the bundle needs (e.g. the partition custom op)."""
    import importlib

    for name in bundle.metadata.get("runtime_modules", []):
        if name not in RUNTIME_MODULES:
            raise BundleError(f"bundle needs unknown runtime module '{name}'", code="BND005",
                              hint=f"known runtime modules: {', '.join(sorted(RUNTIME_MODULES))}")
        importlib.import_module(name)
