"""The target contract: where a model is served and how a session on it is opened.

`Target` owns the public `deploy` / `infer` / `close` and the context manager, so input
checks live in one place; subclasses implement only the `_*_impl` hooks. `is_available()`,
`version()` and `supported_ops()` are classmethods so checks can ask without building anything.

A target also declares what it can serve, in one place, so that adding a target is one file:
`precisions` (fp32, bf16, int8), `formats` (the artifact formats it runs: `symbol`, `onnx`,
and the quantized formats of pipeline/model/quantized.py) and `tune` (the precisions
`pipeline tune` / `deploy: {target: auto}` try on it, each with the target options it is
opened with). Quantize's target list, tune's candidates, the QNT201 check
(pipeline/targets/build.py) and the capability table of docs/targets.md all read these.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, Mapping

import numpy as np

from pipeline.model.bundle import ModelBundle
from pipeline.model.quantized import FORMATS
from pipeline.core.errors import InternalError, TargetError
from pipeline.core.registry import Registry

GiB = 1 << 30
MXNET_1_9_1 = 10901
# Every precision a target may serve, in the order tables list them.
# "int8+bf16": int8 where quantized, bf16 (not fp32) for what the quantizer left in float.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8", "int8+bf16")


def needs_bf16(precision: str) -> bool:
    """Whether serving `precision` needs native bf16 (bf16 alone, or as the float part of a mix)."""
    return "bf16" in precision.split("+")
# The plain (not quantized) artifacts: the bundle's Symbol bound by MXNet, or its ONNX export.
PLAIN_FORMATS: tuple[str, ...] = ("symbol", "onnx")
NO_TUNING: Mapping[str, Mapping[str, object]] = MappingProxyType({})


class Target:
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    memory_bytes: ClassVar[int | None] = None  # None: bounded only by the host
    runtime_mxnet_version: ClassVar[int] = MXNET_1_9_1
    dtypes: ClassVar[frozenset[str]] = frozenset({"float32", "float64", "float16", "int32", "int64", "uint8", "int8"})
    is_accelerator: ClassVar[bool] = False
    # -- capabilities (see the module docstring) --
    precisions: ClassVar[frozenset[str]] = frozenset({"fp32"})
    formats: ClassVar[frozenset[str]] = frozenset({"symbol"})
    # precision -> target options tune opens the candidate with; empty: tune never tries this target
    tune: ClassVar[Mapping[str, Mapping[str, object]]] = NO_TUNING

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
        # What preparing the model did, for the deploy stage's metrics and diagnostics (e.g. the
        # onnxruntime target's transformer fusion counts); filled by `_deploy_impl`.
        self.deploy_metrics: dict = {}
        self.deploy_diagnostics: list = []

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


def check_capabilities(cls: type[Target]) -> None:
    """A declaration that contradicts itself is a bug in the target module (raised at import)."""
    unknown = set(cls.precisions) - set(PRECISIONS)
    bad_formats = set(cls.formats) - set(PLAIN_FORMATS) - set(FORMATS)
    untuned = set(cls.tune) - set(cls.precisions)
    wrong_precision = {f for f in cls.formats if f in FORMATS and FORMATS[f] not in cls.precisions}
    if "fp32" not in cls.precisions or unknown or bad_formats or untuned or wrong_precision:
        raise InternalError(f"target {cls.name!r} declares inconsistent capabilities: precisions "
                        f"{sorted(cls.precisions)} (fp32 required; known {PRECISIONS}), formats {sorted(cls.formats)}"
                        f" (unknown {sorted(bad_formats)}, precision not served {sorted(wrong_precision)}), "
                        f"tune {sorted(cls.tune)} (not served {sorted(untuned)})")


def register_target(cls: type[Target]) -> type[Target]:
    check_capabilities(cls)
    return TARGETS.register(cls.name, cls)


def targets_serving(fmt: str) -> list[str]:
    """The names of the registered targets that run artifacts of format `fmt`."""
    return [name for name, cls in TARGETS.items() if fmt in cls.formats]


def quantize_target_names() -> list[str]:
    """Targets that serve a reduced precision: what the quantize stage's `target` may name."""
    return [name for name, cls in TARGETS.items() if set(cls.precisions) - {"fp32"}]
