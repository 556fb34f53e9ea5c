"""What every side (MXNet executor, ONNX Runtime, OpenVINO) exposes to the search: tappable nodes.

A `TapNode` is one tensor a side can be asked to return: its local id (an MXNet internal output
name or an ONNX tensor name), the op that writes it, the ids of the computed tensors it reads,
and its aliases, the recorded identities (`mx:NODE:INDEX`, `onnx:TENSOR`) matching uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TapNode:
    id: str
    op: str
    label: str  # the node name shown to users
    inputs: tuple[str, ...]  # ids of computed tensors it reads (params and graph inputs are left out)
    aliases: frozenset[str]


class Side:
    """One model on one runtime. Subclasses implement `nodes` and `_run`."""

    kind: str = ""  # "mxnet" | "onnx"

    def __init__(self, spec: str, target: str, inputs, quantized: dict | None = None):
        self.spec = spec
        self.target = target
        self.inputs = list(inputs)  # TensorSpec list
        self.quantized = quantized
        self.runs = 0

    def describe(self) -> str:
        return f"{self.spec}@{self.target}"

    def nodes(self) -> list[TapNode]:
        raise NotImplementedError

    def run(self, feed: dict[str, np.ndarray], taps: list[str]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """(the model's outputs, {tap id: value}) for one forward with `taps` added as outputs."""
        self.runs += 1
        outputs, tapped = self._run(feed, list(taps))
        return [np.asarray(o) for o in outputs], {k: np.asarray(v) for k, v in tapped.items()}

    def _run(self, feed, taps):
        raise NotImplementedError

    def run_subgraph(self, out_id: str, cut: dict[str, str], feed: dict[str, np.ndarray]) -> np.ndarray:
        """Tensor `out_id` computed alone, untapped, with the `cut` tensors ({id: input name}) fed from `feed`.

        Confirmation (pipeline/localize/confirm.py) calls it; a side that cannot cut its graph says so."""
        from pipeline.localize.errors import UNTAPPABLE, LocalizeError

        raise LocalizeError(f"{self.describe()} cannot run one node on its own", code=UNTAPPABLE, where=self.describe(),
                            hint="the finding stays unconfirmed")

    def close(self) -> None:
        pass
