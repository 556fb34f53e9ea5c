"""The tensors that feed NMS, compared elementwise: what detection mode's set matching cannot see.

NMS hides numeric drift: a score off by 1e-3 or a box off by a pixel still emits "the same"
detections after suppression and top-k, and the set rule (pipeline/measure/detection.py) only
sees what NMS kept. So for detection models verify also taps, on the reference and the deployed
model, the input of every NMS node (`_contrib_box_nms`; the contrib ops that suppress inside:
MultiBoxDetection, Proposal, MultiProposal) and compares them with verify's atol/rtol.
The sides and node pairing are localization's (pipeline/localize/deployment.py, matching.py):
an NMS input is compared with the deployed tensor that carries the same recorded MXNet output.
Box coordinates in box_nms's rows are held to atol + rtol * (their box's largest |coordinate|)
(pipeline/measure/detection.py, box_scale), every other element to the plain elementwise rule.

A second-stage NMS (Faster/Mask R-CNN's per-class NMS over the ROIs the RPN's NMS kept) reads
tensors that depend on which proposals the first NMS kept, and near-tied proposal scores may
legitimately be kept differently. Its input decides only when every NMS upstream of it kept the
same rows (their outputs agree elementwise too); otherwise it is reported, marked `decides: false`.
The final NMS's input rows are also handed to the detection match, which uses them to tell a
tie NMS broke two ways from a detection that moved (pipeline/measure/detection.py, _tie_swaps).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import MxdeployError
from pipeline.measure.compare import compare
from pipeline.measure.detection import box_scale
from pipeline.model.symbol_json import node_attrs

NMS_OPS = frozenset({"_contrib_box_nms", "box_nms", "_contrib_MultiBoxDetection", "_contrib_Proposal",
                     "_contrib_MultiProposal"})


def _upstream(nodes: dict, start: tuple[str, ...], stop: set[str]) -> set[str]:
    """Ids in `stop` reachable backwards from `start` through `nodes` ({id: TapNode})."""
    seen, found, stack = set(), set(), list(start)
    while stack:
        tid = stack.pop()
        if tid in seen:
            continue
        seen.add(tid)
        if tid in stop:
            found.add(tid)
        node = nodes.get(tid)
        stack.extend(node.inputs if node else ())
    return found


# box_nms's default coord_start: its input rows are (id, score, x1, y1, x2, y2, ...)
_COORD_START = 2


def _box_nms_attrs(side) -> dict[str, dict]:
    """{box_nms node name: {coord_start, score_index, id_index}} from an MXNet side's graph: where
    the corner boxes, scores and classes sit in the rows it reads (and writes). The other NMS ops
    read deltas, probabilities and anchors."""
    import json

    symbol = getattr(side, "sym", None)
    if symbol is None:
        return {}
    defaults = {"coord_start": _COORD_START, "score_index": 1, "id_index": -1, "overlap_thresh": 0.5}
    return {n["name"]: {k: type(v)(float(node_attrs(n).get(k, v))) for k, v in defaults.items()}
            for n in json.loads(symbol.tojson())["nodes"] if n["op"] in ("_contrib_box_nms", "box_nms")}


def candidate_rows(values: np.ndarray, attrs: dict) -> np.ndarray:
    """The rows a box_nms reads as (n, 6): class (NaN when class-agnostic), score, corner box."""
    rows = np.asarray(values, dtype=np.float64).reshape(-1, np.shape(values)[-1])
    cls = rows[:, attrs["id_index"]] if attrs["id_index"] >= 0 else np.full(len(rows), np.nan)
    cs = attrs["coord_start"]
    return np.column_stack([cls, rows[:, attrs["score_index"]], rows[:, cs:cs + 4]])


def plan(nodes_a, nodes_b) -> tuple[list[dict], dict[str, str]]:
    """(one entry per NMS node of side A: its inputs and the NMS nodes upstream of it;
    {side A tensor id: side B id} for every tensor the comparison needs that has a partner)."""
    from pipeline.localize.matching import match

    by_id = {n.id: n for n in nodes_a}
    nms = [n for n in nodes_a if n.op in NMS_OPS]
    if not nms:
        return [], {}
    partner = {p.a.id: p.b.id for p in match(nodes_a, nodes_b).pairs}
    nms_ids = {n.id for n in nms}
    entries = [{"node": n.label, "op": n.op, "id": n.id, "inputs": list(n.inputs),
                "upstream": sorted(_upstream(by_id, n.inputs, nms_ids))} for n in nms]
    needed = {t for e in entries for t in e["inputs"] + e["upstream"]}
    return entries, {t: partner[t] for t in needed if t in partner}


def compare_pre_nms(a, b, feed, *, atol: float, rtol: float) -> tuple[dict, tuple | None]:
    """(the `pre_nms` record of verify's metrics, the final NMS's candidate rows on each side or
    None) for sides `a` (reference) and `b` (deployed)."""
    entries, partner = plan(a.nodes(), b.nodes())
    if not entries:
        return {"status": "no_nms", "tensors": []}, None
    taps = sorted(partner)
    _, got_a = a.run(feed, taps)
    _, got_b = b.run(feed, [partner[t] for t in taps])
    attrs = _box_nms_attrs(a)
    # a box_nms input or output holds corner boxes: their coordinates take the box's scale
    boxes = {t: attrs[e["node"]]["coord_start"] for e in entries if e["node"] in attrs
             for t in e["inputs"] + [e["id"]]}
    results = {}
    for t in taps:
        ref, other = got_a[t], got_b[partner[t]]
        other = other.reshape(ref.shape) if other.shape != ref.shape and other.size == ref.size else other
        scale = [box_scale(ref, boxes[t])] if t in boxes else None
        results[t] = compare([ref], [other], atol=atol, rtol=rtol, top_k=1, scale=scale)
    labels = {n.id: n.label for n in a.nodes()}
    tensors = []
    for e in entries:
        same_upstream = all(u in results and results[u].passed for u in e["upstream"])
        for t in e["inputs"]:
            row = {"nms": e["node"], "tensor": labels.get(t, t), "other_tensor": partner.get(t),
                   "decides": same_upstream, "upstream_nms": [labels.get(u, u) for u in e["upstream"]]}
            if t not in results:
                tensors.append({**row, "status": "unmatched"})
                continue
            r = results[t]
            tensors.append({**row, "status": "passed" if r.passed else "failed",
                            "max_abs_err": _num(r.max_abs_err), "max_rel_err": _num(r.max_rel_err),
                            "mismatches": r.mismatches, "reason": r.reason})
    # the final NMS (no NMS after it) writes the detections: its input rows, for tied choices
    last = [e for e in entries if not any(e["id"] in other["upstream"] for other in entries)]
    final = last[-1] if last else None
    candidates = None
    if final is not None and final["node"] in attrs and final["inputs"] and final["inputs"][0] in results:
        t = final["inputs"][0]
        candidates = (candidate_rows(got_a[t], attrs[final["node"]]),
                      candidate_rows(got_b[partner[t]].reshape(got_a[t].shape), attrs[final["node"]]),
                      attrs[final["node"]]["overlap_thresh"])
    return {"status": "compared", "tensors": tensors}, candidates


def _num(value):
    import math

    return float(value) if value is not None and math.isfinite(value) else None


def pre_nms_deployment(bundle, feed, *, run_dir: Path, atol: float, rtol: float) -> tuple[dict, tuple | None]:
    """compare_pre_nms on the source's reference and the deployed bundle (localization's sides);
    a side that cannot be tapped yields {"status": "skipped", "reason": ...}, never a crash."""
    from pipeline.localize.deployment import reference_side
    from pipeline.localize.sides import bundle_side

    deployment = bundle.metadata.get("deployment") or {}
    sides = []
    try:
        sides.append(reference_side(bundle.metadata.get("reference") or {}, bundle, run_dir))
        sides.append(bundle_side("deployed", deployment.get("target", "cpu"), bundle, base_dir=Path(run_dir)))
        return compare_pre_nms(*sides, feed, atol=atol, rtol=rtol)
    except MxdeployError as exc:
        return {"status": "skipped", "reason": exc.one_line(), "tensors": []}, None
    finally:
        for side in sides:
            side.close()
