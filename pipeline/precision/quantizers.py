"""The quantizer registry: one function per (precision, target), registered by its module.

A quantizer takes the fp32 bundle and the calibration feeds and returns the bundle to serve,
with `metadata["quantized"]` filled in (pipeline/model/quantized.py says what each format means).
A pair with no quantizer is refused at validation time, before any model loads.

Each registration also says which artifact format it writes and which calibration methods it
accepts, so the quantize stage checks a method against the quantizer (not a list of target
names), and a test checks that every quantizer's format is one its target declares it serves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.precision import cpuflags
from pipeline.model.bundle import ModelBundle
from pipeline.core.errors import StageError
from pipeline.core.registry import Registry
from pipeline.precision.settings import QuantizeParams


@dataclass
class QuantizeJob:
    bundle: ModelBundle  # the fp32 model
    params: QuantizeParams
    calibration: list[dict[str, np.ndarray]]
    stage_dir: Path  # where artifacts go
    run_dir: Path  # what artifact paths in metadata are relative to


CALIBRATION_METHODS: tuple[str, ...] = ("minmax", "entropy", "percentile")


@dataclass(frozen=True)
class Quantizer:
    """A registered quantizer: the function, the format it writes, the calibration methods it takes."""

    fn: Callable[[QuantizeJob], ModelBundle]
    format: str  # a format of pipeline/model/quantized.py
    methods: tuple[str, ...] = CALIBRATION_METHODS
    label: str = ""  # how the quantize stage names it in a refusal ("MXNet's quantization")

    def __call__(self, job: QuantizeJob) -> ModelBundle:
        return self.fn(job)


QUANTIZERS: Registry[Quantizer] = Registry("quantizer")


def key(precision: str, target: str) -> str:
    return f"{precision}:{target}"


def register(precision: str, *targets: str, format: str, methods: tuple[str, ...] = CALIBRATION_METHODS,
             label: str = ""):
    """Decorator: register one function as the quantizer of `precision` for each target."""

    def wrap(fn):
        entry = Quantizer(fn, format, tuple(methods), label or fn.__name__)
        for target in targets:
            QUANTIZERS.register(key(precision, target), entry)
        return fn

    return wrap


def quantizer_keys() -> list[tuple[str, str]]:
    """Every registered (precision, target) pair."""
    return [tuple(k.split(":", 1)) for k in QUANTIZERS.names()]


def record(job: QuantizeJob, fmt: str, **extra) -> dict:
    """The metadata["quantized"] entry every quantizer writes."""
    p = job.params
    return {"precision": p.precision, "format": fmt, "target": p.target, "method": p.method,
            "per_channel": p.per_channel, "exclude_nodes": list(p.exclude_nodes),
            "calibration": {"input": p.calibration.input, "samples": p.calibration.samples}, **extra}


def require_bf16() -> None:
    """Refuse bf16 where the CPU would emulate it (slower than fp32) or a runtime would fall back to fp32."""
    if not cpuflags.has_bf16():
        raise StageError(f"precision bf16 needs a CPU with native bf16 ({' or '.join(cpuflags.BF16_FLAGS)}); "
                         f"this one ({cpuflags.cpu_model()}) has neither", code="QNT103", where="precision",
                         hint="use precision: int8, or deploy on a CPU with AVX512_BF16 or AMX")
