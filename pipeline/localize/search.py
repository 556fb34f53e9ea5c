"""The bounded search for the first divergent node, and the per-layer SQNR scan for int8/bf16.

Bisection over side A's topological order of matched pairs: the graph inputs agree (index -1)
and the model outputs differ, so some boundary lies between. Each run taps at most `max_taps`
evenly spaced pairs inside the open interval on both sides and keeps the sub-interval between
the last agreeing tap and the first differing one: runs grow with log(pairs)/log(max_taps + 1),
and one run holds at most `max_taps` extra tensors per side. The boundary node is then checked
against its matched inputs; if one of them differs, the search continues below it, so the
finding always has inputs that agree: the first divergent node.

Quantized models differ everywhere by design, so for them every pair is measured (in chunks of
`max_taps`, still memory-bounded) and the finding is the node that adds the most noise of its
own: its SQNR drop below its inputs, read as noise powers (`own_sqnr_db`). A plain difference of
dB would always name the first quantized layer, whose graph inputs are exact (an infinite drop).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.localize.matching import Pair
from pipeline.measure.compare import CompareResult, compare

SQNR_CAP_DB = 140.0  # identical tensors (infinite SQNR) count as this: float32 rounding sits below it


@dataclass
class Measured:
    pair: Pair
    result: CompareResult
    sqnr_db: float


@dataclass
class Search:
    measured: dict[int, Measured] = field(default_factory=dict)
    finding: int | None = None
    runs: int = 0
    taps_changed_outputs: bool = False


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """10 log10(signal power / noise power), capped; the reference side is the signal."""
    ref = np.asarray(ref, dtype=np.float64).ravel()
    got = np.asarray(got, dtype=np.float64).reshape(ref.shape) if got.size == ref.size else None
    if got is None:
        return float("nan")
    noise = float(np.sum((got - ref) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0.0:
        return SQNR_CAP_DB
    if signal == 0.0:
        return -SQNR_CAP_DB
    return float(min(SQNR_CAP_DB, 10.0 * np.log10(signal / noise)))


def fit_shape(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """MXNet has no rank-0 tensors (a scalar is (1,)): same size, same layout, compare as ref's shape."""
    return got.reshape(ref.shape) if got.shape != ref.shape and got.size == ref.size else got


class Searcher:
    """Runs both sides with taps, caches what it measured, and answers `differs(index)`."""

    def __init__(self, a, b, pairs: list[Pair], feed, *, atol: float, rtol: float, max_taps: int,
                 baseline: tuple[list, list]):
        self.a, self.b, self.pairs, self.feed = a, b, pairs, feed
        self.atol, self.rtol, self.max_taps = atol, rtol, max_taps
        self.baseline = baseline  # untapped outputs of A and B
        self.state = Search()

    def measure(self, indices) -> None:
        todo = sorted({i for i in indices if i not in self.state.measured})
        for start in range(0, len(todo), self.max_taps):
            chunk = [self.pairs[i] for i in todo[start:start + self.max_taps]]
            outs_a, taps_a = self.a.run(self.feed, [p.a.id for p in chunk])
            outs_b, taps_b = self.b.run(self.feed, [p.b.id for p in chunk])
            self.state.runs += 1
            for side_outs, base in ((outs_a, self.baseline[0]), (outs_b, self.baseline[1])):
                if not compare(base, side_outs, atol=self.atol, rtol=self.rtol).passed:
                    self.state.taps_changed_outputs = True
            for pair in chunk:
                ref, got = taps_a[pair.a.id], fit_shape(taps_a[pair.a.id], taps_b[pair.b.id])
                result = compare([ref], [got], atol=self.atol, rtol=self.rtol, top_k=1)
                self.state.measured[pair.index] = Measured(pair, result, sqnr_db(ref, got))

    def differs(self, index: int) -> bool:
        self.measure([index])
        return not self.state.measured[index].result.passed

    def bisect(self) -> Search:
        lo, hi = -1, len(self.pairs)  # lo agrees (the graph inputs); hi differs (the outputs)
        while True:
            while hi - lo > 1:
                inside = list(range(lo + 1, hi))
                step = max(1, len(inside) / self.max_taps)
                probes = sorted({inside[min(len(inside) - 1, int(k * step + step / 2))]
                                 for k in range(min(self.max_taps, len(inside)))})
                self.measure(probes)
                first = next((i for i in probes if self.differs(i)), None)
                if first is None:
                    lo = probes[-1]
                else:
                    lo = max([i for i in probes if i < first], default=lo)
                    hi = first
            if hi == len(self.pairs):  # no matched node differs: the cause is after the last one
                return self.state
            pair = self.pairs[hi]
            self.measure(pair.inputs)
            bad = [i for i in pair.inputs if self.differs(i)]
            if not bad:
                self.state.finding = hi
                return self.state
            hi = bad[0]
            lo = min(lo, hi - 1) if lo < hi else -1

    def sqnr_scan(self) -> Search:
        self.measure(range(len(self.pairs)))
        own = {i: self.own_sqnr(i) for i in self.state.measured}
        finite = {i: d for i, d in own.items() if np.isfinite(d)}
        self.state.finding = min(finite, key=lambda i: (finite[i], i)) if finite else None
        return self.state

    def input_sqnr(self, index: int) -> float:
        """The SQNR of the node's worst matched input (graph inputs are exact: the cap)."""
        m = self.state.measured[index]
        return min((self.state.measured[i].sqnr_db for i in m.pair.inputs if i in self.state.measured),
                   default=SQNR_CAP_DB)

    def drop(self, index: int) -> float:
        """How many dB of SQNR this node loses below its worst input."""
        return self.input_sqnr(index) - self.state.measured[index].sqnr_db

    def own_sqnr(self, index: int) -> float:
        """The SQNR of the noise this node adds itself (see `own_sqnr_db`)."""
        return own_sqnr_db(self.state.measured[index].sqnr_db, self.input_sqnr(index))


def own_sqnr_db(out_db: float, in_db: float) -> float:
    """Signal over the noise a node adds, if noise powers add: out noise = propagated input noise + own.

    Relative to the signal, noise power is 10^(-SQNR/10); a node that keeps its input's SQNR adds
    nothing (the cap), one at 20 dB behind a 45 dB input adds ~20 dB of its own, and a first layer
    behind exact inputs adds all of its noise (its own SQNR is its SQNR)."""
    if not (np.isfinite(out_db) and np.isfinite(in_db)):
        return float("nan")
    added = 10.0 ** (-out_db / 10.0) - (0.0 if in_db >= SQNR_CAP_DB else 10.0 ** (-in_db / 10.0))
    return SQNR_CAP_DB if added <= 0 else float(min(SQNR_CAP_DB, -10.0 * np.log10(added)))
