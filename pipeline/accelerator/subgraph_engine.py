"""The `accelerator` subgraph engine: partitioned subgraphs run on an accelerator server.

A bundle partitioned for an eia target names this engine in its subgraph nodes; the CPU
nodes around them run in this process's MXNet. Importing this module registers the engine
(it is on pipeline.graph.execute's allowlist of runtime modules, so a fresh process binding
a partitioned bundle finds it). Which server serves it is set by the eia target at deploy
(`attach`): MXDEPLOY_ACCELERATOR, the pipeline's `accelerator: {address}` or this process's
embedded server of the target's size. A process attaches one accelerator at a time, as
Elastic Inference did.
"""
from __future__ import annotations

import os
import threading

from pipeline.partition.runtime import SubgraphEngine, engine, register_engine

NAME = "accelerator"


@register_engine
class AcceleratorSubgraphEngine(SubgraphEngine):
    """Delegates load/forward/unload to a RemoteSubgraphEngine for the attached size."""

    name = NAME

    def __init__(self):
        self._lock = threading.Lock()
        self._remote = None
        self._attached: tuple | None = None

    def attach(self, size: str, settings: dict | None = None) -> None:
        """Serve later loads from the accelerator for `size` (switching detaches the previous one)."""
        from pipeline.accelerator.client import remote_engine

        wanted = (size, repr(settings or {}))
        with self._lock:
            if self._attached == wanted and self._remote is not None:
                return
            self._close_locked()
            self._remote = remote_engine(size=size, settings=settings)
            self._attached = wanted

    def detach(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._remote is not None:
            self._remote.close()
        self._remote, self._attached = None, None

    def _engine(self):
        if self._remote is None:  # a bundle bound outside an eia deploy: the configured default size
            self.attach(os.environ.get("MXDEPLOY_ACCELERATOR_SIZE", "eia1.large"))
        return self._remote

    def load(self, key, symbol_json, params, input_shapes, input_dtypes):
        self._engine().load(key, symbol_json, params, input_shapes, input_dtypes)

    def forward(self, key, arrays):
        return self._engine().forward(key, arrays)

    def unload(self, key):
        if self._remote is not None:
            try:
                self._remote.unload(key)
            except Exception:  # noqa: BLE001 - unload runs from a finalizer; the server frees on disconnect
                pass


def accelerator_engine() -> AcceleratorSubgraphEngine:
    """This process's one accelerator engine."""
    return engine(NAME)
