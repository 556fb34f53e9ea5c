"""Localize a difference between two sides: match, search, and describe the finding as data.

`localize` is what `pipeline compare --localize` and verify's `localize: auto` call; it returns
plain JSON-able data (the `localize.json` format, docs/localize.md) plus the searcher, which the
repro writer reuses. Quantized sides (metadata "quantized", pipeline/model/quantized.py) switch
to the SQNR scan. A finding is then confirmed by running its node alone, untapped
(pipeline/localize/confirm.py).
"""
from __future__ import annotations

import math

from pipeline.localize import errors
from pipeline.localize.confirm import confirm
from pipeline.localize.errors import LocalizeError
from pipeline.localize.matching import match
from pipeline.localize.search import Searcher

DEFAULT_MAX_TAPS = 8
_LISTED = 20  # unmatched node ids listed in the result (the counts are always complete)


def _num(value: float):
    return float(value) if value is not None and math.isfinite(value) else None


def _errors(m) -> dict:
    return {"max_abs_err": _num(m.result.max_abs_err), "max_rel_err": _num(m.result.max_rel_err),
            "cosine": _num(m.result.cosine), "sqnr_db": _num(m.sqnr_db)}


def _describe(searcher, index: int) -> dict:
    m = searcher.state.measured[index]
    pair = m.pair
    inputs = [{"node": searcher.pairs[i].a.label, "other_node": searcher.pairs[i].b.label,
               **_errors(searcher.state.measured[i])} for i in pair.inputs if i in searcher.state.measured]
    return {"node": pair.a.label, "op": pair.a.op, "tensor": pair.a.id, "other_node": pair.b.label,
            "other_op": pair.b.op, "other_tensor": pair.b.id, **_errors(m), "inputs": inputs}


def localize(a, b, feed, *, atol: float, rtol: float, max_taps: int = DEFAULT_MAX_TAPS, baseline) -> tuple[dict, Searcher]:
    """(localize.json data, the searcher) for sides `a` and `b` whose untapped outputs are `baseline`."""
    matching = match(a.nodes(), b.nodes())
    if not matching.pairs:
        raise LocalizeError(f"no node of {a.describe()} matches a node of {b.describe()}", code=errors.NO_MATCHES,
                            where=b.describe(),
                            hint="compare models whose export or import recorded a node map (made by this tool: "
                                 "pipeline convert, or the pipeline's own stages), or the same ONNX file on two runtimes")
    searcher = Searcher(a, b, matching.pairs, feed, atol=atol, rtol=rtol, max_taps=max_taps, baseline=baseline)
    sqnr = bool(a.quantized or b.quantized)
    state = searcher.sqnr_scan() if sqnr else searcher.bisect()
    out = {"a": a.describe(), "b": b.describe(), "mode": "sqnr" if sqnr else "first_divergent",
           "tolerance": {"atol": atol, "rtol": rtol}, "max_taps": max_taps, "runs": state.runs,
           "matched": len(matching.pairs),
           "unmatched": {"a": len(matching.unmatched_a), "b": len(matching.unmatched_b),
                         "ambiguous": len(matching.ambiguous), "a_nodes": matching.unmatched_a[:_LISTED],
                         "b_nodes": matching.unmatched_b[:_LISTED]},
           "measured": len(state.measured), "first_divergent": None}
    if state.finding is not None:
        finding = _describe(searcher, state.finding)
        finding.update(confirm(searcher, state.finding, sqnr_mode=sqnr))
        out["first_divergent"] = finding
    else:
        out["note"] = ("no matched node differs beyond tolerance: the difference arises in unmatched nodes after "
                       "the last matched one" if not sqnr else "no SQNR could be measured")
    if sqnr:
        out["sqnr"] = [{"node": m.pair.a.label, "op": m.pair.a.op, "tensor": m.pair.a.id,
                        "other_node": m.pair.b.label, "other_tensor": m.pair.b.id, "sqnr_db": _num(m.sqnr_db),
                        "drop_db": _num(searcher.drop(i)), "own_sqnr_db": _num(searcher.own_sqnr(i))}
                       for i, m in sorted(state.measured.items())]
    out["taps_changed_outputs"] = state.taps_changed_outputs
    return out, searcher


def finding_lines(data: dict) -> list[str]:
    """One line per finding, as `pipeline compare --localize` prints it."""
    f = data.get("first_divergent")
    head = f"localized in {data['runs']} run(s) of <= {data['max_taps']} taps; {data['matched']} matched node(s), " \
           f"{data['unmatched']['a']} + {data['unmatched']['b']} unmatched"
    if f is None:
        return [head, data.get("note", "")]
    what = "most noise added" if data["mode"] == "sqnr" else "first divergent node"
    inputs = "; ".join(f"{i['node']} max abs {_g(i['max_abs_err'])} cos {_g(i['cosine'])}" for i in f["inputs"]) \
        or "graph inputs only"
    sqnr = f" SQNR {_g(f['sqnr_db'])} dB" if data["mode"] == "sqnr" else ""
    return [head, f"{what}: {f['node']} ({f['op']}) ~ {f['other_node']} ({f['other_op']}): max abs err "
                  f"{_g(f['max_abs_err'])}, max rel err {_g(f['max_rel_err'])}, cosine {_g(f['cosine'])}{sqnr}; "
                  f"inputs: {inputs}; {_confirmation(f)}"]


def _confirmation(finding: dict) -> str:
    c = finding.get("confirmation") or {}
    if finding.get("confirmed") is None:
        return f"not confirmed ({c.get('reason', 'no check ran')})"
    alone = f"alone, untapped: max abs err {_g(c.get('max_abs_err'))}, SQNR {_g(c.get('sqnr_db'))} dB"
    return ("confirmed " if finding["confirmed"] else "NOT reproduced ") + alone


def _g(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
