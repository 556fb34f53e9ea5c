"""References: what the deployed outputs are compared against.

A source stage records `metadata["reference"] = {"kind": ..., ...}` in the bundle; the verify
stage rebuilds that reference from plain data (so it works in any worker process) and runs it
on the same inputs as the deployed model. Kinds register here by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from pipeline.core.registry import Registry


class Reference:
    """Runs the model as its source defines it; subclasses implement `run`."""

    kind: str
    # the runtime that computes it (pipeline/core/runtime_errors.py RUNTIMES): named in its errors
    runtime: ClassVar[str] = "mxnet"

    def __init__(self, spec: dict, run_dir: Path):
        self.spec = spec
        self.run_dir = Path(run_dir)

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError


REFERENCES: Registry[type[Reference]] = Registry("reference")


def register_reference(cls: type[Reference]) -> type[Reference]:
    return REFERENCES.register(cls.kind, cls)
