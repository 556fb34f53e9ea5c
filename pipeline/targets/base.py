"""The target contract: where a model is served and how a session on it is opened.

`Target` owns the public `deploy` / `infer` / `close` and the context manager, so input
checks live in one place; subclasses implement only the `_*_impl` hooks. `is_available()`,
`version()` and `supported_ops()` are classmethods so checks can ask without building anything.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import TargetError
from pipeline.core.registry import Registry

GiB = 1 << 30
MXNET_1_9_1 = 10901


class Target:
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    memory_bytes: ClassVar[int | None] = None  # None: bounded only by the host
    runtime_mxnet_version: ClassVar[int] = MXNET_1_9_1
    dtypes: ClassVar[frozenset[str]] = frozenset({"float32", "float64", "float16", "int32", "int64", "uint8", "int8"})
    is_accelerator: ClassVar[bool] = False

    @classmethod
    def is_available(cls) -> bool:
        return True

    @classmethod
    def version(cls) -> str:
        return ""

    @classmethod
    def supported_ops(cls) -> frozenset[str] | None:
        """MXNet op names this target runs; None means every registered MXNet op."""
        return None

    @classmethod
    def supported_ops_for(cls, bundle: ModelBundle) -> frozenset[str] | None:
        """Like supported_ops, but may ask the runtime about this bundle (e.g. OpenVINO's
        Core.query_model on the export); the default is the bundle-independent set."""
        return cls.supported_ops()

    def __init__(self, **options):
        self.options = options
        self.bundle: ModelBundle | None = None

    # -- public API, shared checks ---------------------------------------------------------
    def deploy(self, bundle: ModelBundle) -> "Target":
        if not self.is_available():
            raise TargetError(f"target '{self.name}' is not available on this machine", code="TGT002",
                              hint="install its runtime or pick another target")
        self.bundle = bundle
        self._deploy_impl(bundle)
        return self

    def infer(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.bundle is None:
            raise TargetError(f"target '{self.name}': infer before deploy", code="TGT003",
                              hint="call deploy(bundle) first")
        for spec in self.bundle.inputs:
            if spec.name not in feed:
                raise TargetError(f"input '{spec.name}' is missing", code="TGT004",
                                  hint=f"feed every declared input: {', '.join(s.name for s in self.bundle.inputs)}")
            if not fits(spec, feed[spec.name].shape):
                raise TargetError(f"input '{spec.name}' has shape {tuple(feed[spec.name].shape)}, "
                                  f"deployed for {tuple(spec.shape)}", code="TGT005",
                                  hint="declare this shape in the pipeline's inputs, or mark the axis dynamic")
        return [np.asarray(o) for o in self._infer_impl(feed)]

    def close(self) -> None:
        if self.bundle is not None:
            self._close_impl()
            self.bundle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- hooks -----------------------------------------------------------------------------
    def _deploy_impl(self, bundle: ModelBundle) -> None:
        raise NotImplementedError

    def _infer_impl(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def _close_impl(self) -> None:
        pass


def fits(spec, shape) -> bool:
    """`shape` is the declared one, except on the input's `dynamic` axes (any size there)."""
    shape = tuple(shape)
    return len(shape) == len(spec.shape) and all(
        got == want or axis in spec.dynamic for axis, (got, want) in enumerate(zip(shape, spec.shape)))


TARGETS: Registry[type[Target]] = Registry("target")


def register_target(cls: type[Target]) -> type[Target]:
    return TARGETS.register(cls.name, cls)
