"""Confirm a finding without taps: the node's own computation, cut out and run alone on each side.

Tapping breaks fusions (docs/localize.md), so a difference measured on a tapped copy could be an
artefact of the taps. The finding's subgraph (its computation back to its matched inputs, the cut
`--save-repro` writes) is run on side A's runtime and on side B's, both fed side A's values of
those inputs, with the node's tensor as the only output: nothing is tapped, so each runtime fuses
inside the node as it does in the deployed model. The finding is confirmed when the difference
reproduces there:

- first-divergent mode: the two results differ beyond the tolerance;
- SQNR mode: side B's result, from exact inputs, has a lower SQNR than the worst input the node
  received in the full model (the node itself adds noise, rather than amplifying its inputs').

`confirmed` is null when a side cannot cut its graph (a control-flow subgraph, a side that cannot
run one node). Whether the taps changed the model outputs is recorded beside it.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import MxdeployError
from pipeline.localize.search import SQNR_CAP_DB, fit_shape, sqnr_db
from pipeline.measure.compare import compare

METHOD = "node subgraph run alone, untapped, on both runtimes from side A's input values"


def confirm(searcher, index: int, *, sqnr_mode: bool) -> dict:
    """{"confirmed": True | False | None, "confirmation": what was checked and measured}."""
    pair = searcher.pairs[index]
    boundary = [searcher.pairs[i] for i in pair.inputs]
    record = {"method": METHOD, "taps_left_outputs_unchanged": not searcher.state.taps_changed_outputs, "runs": 0}
    try:
        feed = dict(searcher.feed)
        for start in range(0, len(boundary), searcher.max_taps):  # the inputs' values, within the tap bound
            chunk = list(enumerate(boundary))[start:start + searcher.max_taps]
            _, taps_a = searcher.a.run(searcher.feed, [p.a.id for _, p in chunk])
            feed.update({f"in{k}": taps_a[p.a.id] for k, p in chunk})
            record["runs"] += 1
        ref = searcher.a.run_subgraph(pair.a.id, {p.a.id: f"in{k}" for k, p in enumerate(boundary)}, feed)
        got = searcher.b.run_subgraph(pair.b.id, {p.b.id: f"in{k}" for k, p in enumerate(boundary)}, feed)
        record["runs"] += 2
    except MxdeployError as exc:
        return {"confirmed": None, "confirmation": {**record, "status": "not_applicable", "reason": exc.one_line()}}
    got = fit_shape(ref, np.asarray(got))
    result = compare([np.asarray(ref)], [got], atol=searcher.atol, rtol=searcher.rtol, top_k=1)
    alone = sqnr_db(ref, got)
    record.update({"max_abs_err": _num(result.max_abs_err), "max_rel_err": _num(result.max_rel_err),
                   "cosine": _num(result.cosine), "sqnr_db": _num(alone)})
    if sqnr_mode:
        received = searcher.input_sqnr(index)
        record["input_sqnr_db"] = _num(min(received, SQNR_CAP_DB))
        reproduced = bool(np.isfinite(alone) and alone < received)
    else:
        reproduced = not result.passed
    record["status"] = "reproduced" if reproduced else "not_reproduced"
    return {"confirmed": reproduced, "confirmation": record}


def _num(value):
    return float(value) if value is not None and np.isfinite(value) else None
