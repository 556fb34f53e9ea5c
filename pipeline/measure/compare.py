"""Comparators: pure functions from (reference outputs, deployed outputs) to a CompareResult.

No I/O, no logging, no globals: verify, tune and the pass tests call the same function and
report its fields. The pass rule is numpy's `allclose` rule per element,
`|got - ref| <= atol + rtol * |ref|`, over every element of every output; the other fields
(relative error, cosine, top-k agreement) explain a failure, they do not decide it.
Arithmetic is in float64 so the comparison itself adds no rounding.

This is the one comparator family: verify, tune, the optimize stage's per-pass output guard
and the pass tests all call `compare`. `equal_nan=True` (numpy's `allclose(equal_nan=True)`)
counts a NaN in both outputs at the same place as equal: the pass guard wants that, since a
pass that keeps a NaN the model already produced has not changed the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CompareResult:
    passed: bool
    reason: str  # "" when passed; otherwise why, in one sentence
    max_abs_err: float
    max_rel_err: float  # over elements whose reference is non-zero (relative error is undefined at 0)
    cosine: float  # of all outputs flattened together
    top1_agreement: float  # fraction of rows of output 0 whose argmax agrees
    topk_agreement: float  # mean overlap of the top-k index sets of those rows, in [0, 1]
    top_k: int
    worst_output: int = -1  # the element furthest beyond tolerance: which output,
    worst_index: tuple[int, ...] = ()  # its index in that output,
    worst_ref: float = float("nan")  # and its two values
    worst_got: float = float("nan")
    mismatches: int = 0  # elements outside tolerance
    extra: dict = field(default_factory=dict)  # a compare mode's own metrics (pipeline/measure/modes.py)

    def metrics(self) -> dict:
        """The report.json fields (non-finite numbers become None: JSON has no NaN)."""
        return {"max_abs_err": _finite(self.max_abs_err), "max_rel_err": _finite(self.max_rel_err),
                "cosine": _finite(self.cosine), "top1_agreement": _finite(self.top1_agreement),
                f"top{self.top_k}_agreement": _finite(self.topk_agreement), **self.extra}


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _failed(reason: str, top_k: int) -> CompareResult:
    nan = float("nan")
    return CompareResult(False, reason, nan, nan, nan, nan, nan, top_k)


def compare(ref: list[np.ndarray], got: list[np.ndarray], *, atol: float, rtol: float,
            top_k: int = 5, equal_nan: bool = False, scale: list[np.ndarray] | None = None) -> CompareResult:
    """Compare deployed outputs `got` with reference outputs `ref`, output by output.

    `scale` (one array per output, shaped like it) replaces |ref| in the rule's rtol term where
    an element's error is set by a larger magnitude than its own (a box coordinate: see
    pipeline/measure/detection.py, box_scale)."""
    ref = [np.asarray(r, dtype=np.float64) for r in ref]
    got = [np.asarray(g, dtype=np.float64) for g in got]
    scale = [np.abs(r) for r in ref] if scale is None else [np.asarray(m, dtype=np.float64) for m in scale]
    if len(ref) != len(got):
        return _failed(f"the deployed model has {len(got)} outputs, the reference {len(ref)}", top_k)
    for i, (r, g) in enumerate(zip(ref, got)):
        if r.shape != g.shape:
            return _failed(f"output {i} has shape {g.shape}, the reference {r.shape}", top_k)
    both = [np.isnan(r) & np.isnan(g) if equal_nan else np.zeros(r.shape, bool) for r, g in zip(ref, got)]
    abs_errs, rel_errs, excess = [], [], []
    for r, g, nan, magnitude in zip(ref, got, both, scale):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            # equal infinities are equal; inf - inf would otherwise read as NaN
            diff = np.where((r == g) | nan, 0.0, np.abs(g - r))
            rel = np.where((r != 0) & ~nan, diff / np.abs(r), 0.0)
            over = np.where(diff == 0, -atol, diff - (atol + rtol * magnitude))
        abs_errs.append(diff)
        rel_errs.append(rel)
        excess.append(np.where(np.isnan(over), np.inf, over))
    max_abs = max((float(d.max()) for d in abs_errs if d.size), default=0.0)
    max_rel = max((float(d.max()) for d in rel_errs if d.size), default=0.0)
    cosine = _cosine(ref, got) if not equal_nan else _cosine([np.where(b, 0.0, r) for r, b in zip(ref, both)],
                                                             [np.where(b, 0.0, g) for g, b in zip(got, both)])
    top1, topk = _agreement(ref[0], got[0], top_k) if ref else (1.0, 1.0)
    mismatches = int(sum(int((e > 0).sum()) for e in excess))
    worst_output, worst_index, worst_ref, worst_got = -1, (), float("nan"), float("nan")
    sized = [i for i, e in enumerate(excess) if e.size]
    if sized:
        worst_output = max(sized, key=lambda i: excess[i].max())
        flat = int(np.argmax(excess[worst_output]))
        worst_index = tuple(int(x) for x in np.unravel_index(flat, excess[worst_output].shape))
        worst_ref = float(ref[worst_output].flat[flat])
        worst_got = float(got[worst_output].flat[flat])
    reason = ""
    nan_in = [(name, i) for name, arrays in (("reference", ref), ("deployed", got))
              for i, a in enumerate(arrays) if (np.isnan(a) & ~both[i]).any()]
    if nan_in:
        name, i = nan_in[0]
        reason = f"the {name} output {i} contains NaN"
    elif mismatches:
        reason = (f"{mismatches} element(s) outside atol={atol:g} + rtol={rtol:g}*|ref|; worst: output "
                  f"{worst_output} at {list(worst_index)}: reference {worst_ref:.7g}, deployed {worst_got:.7g}")
    return CompareResult(passed=not reason, reason=reason, max_abs_err=max_abs, max_rel_err=max_rel,
                         cosine=cosine, top1_agreement=top1, topk_agreement=topk, top_k=top_k,
                         worst_output=worst_output, worst_index=worst_index, worst_ref=worst_ref,
                         worst_got=worst_got, mismatches=mismatches)


def _cosine(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Cosine similarity of all outputs flattened; two all-zero vectors count as identical."""
    a = np.concatenate([r.ravel() for r in ref]) if ref else np.zeros(0)
    b = np.concatenate([g.ravel() for g in got]) if got else np.zeros(0)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if na == 0.0 and nb == 0.0:
            return 1.0
        if na == 0.0 or nb == 0.0:
            return 0.0
        return float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))


def _rows(x: np.ndarray) -> np.ndarray:
    """Output 0 as (samples, scores): the last axis holds the scores of one sample."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    return x.reshape(-1, x.shape[-1])


def _agreement(ref: np.ndarray, got: np.ndarray, top_k: int) -> tuple[float, float]:
    """(top-1 agreement, top-k set overlap) over the rows of the first output.

    A stable sort on the negated scores breaks ties by index, so identical rows always agree.
    """
    r, g = _rows(ref), _rows(got)
    if r.size == 0:
        return 1.0, 1.0
    k = max(1, min(int(top_k), r.shape[1]))
    r_order = np.argsort(-r, axis=1, kind="stable")[:, :k]
    g_order = np.argsort(-g, axis=1, kind="stable")[:, :k]
    top1 = float(np.mean(r_order[:, 0] == g_order[:, 0]))
    overlap = [len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(r_order, g_order)]
    return top1, float(np.mean(overlap))
