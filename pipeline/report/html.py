"""report.html: the run as one self-contained page (inline CSS, an inline SVG latency chart).

No scripts, fonts or images from the network: the page opens from a CI artifact or an
air-gapped machine exactly as it was written. Every text from the run is escaped.
"""
from __future__ import annotations

from html import escape

from pipeline.report.markdown import STATUS_MARK, cell_row, target_text

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.passed td.status,tr.cached td.status{color:#1a7f37} tr.failed td.status,tr.error td.status{color:#b42318}
tr.crashed td.status{color:#8a2be2;font-weight:bold} code{background:#f6f6f6;padding:0 3px}
details{margin:.3em 0} .muted{color:#777}
"""


def _num(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def latency_chart(rows: list[dict], *, width: int = 760, bar: int = 18) -> str:
    """Horizontal bars of p50 latency, one per cell, coloured by target, with a legend."""
    measured = [r for r in rows if isinstance(r["p50_ms"], (int, float)) and not isinstance(r["p50_ms"], bool)]
    if not measured:
        return '<p class="muted">No latency was measured in this run.</p>'
    targets = sorted({r["target"] or "?" for r in measured})
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(targets)}
    label_w, value_w, top = 320, 80, 30
    plot_w = width - label_w - value_w
    peak = max(r["p50_ms"] for r in measured) or 1.0
    height = top + len(measured) * (bar + 4) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="p50 latency per cell" font-size="12" font-family="sans-serif">']
    x = label_w
    for target in targets:  # legend
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour[target]}"/>'
                     f'<text x="{x + 16}" y="16">{escape(target)}</text>')
        x += 24 + 8 * len(target)
    for i, row in enumerate(measured):
        y = top + i * (bar + 4)
        length = max(1.0, plot_w * row["p50_ms"] / peak)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{escape(row["name"])}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y}" width="{length:.1f}" height="{bar}" '
                     f'fill="{colour[row["target"] or "?"]}"><title>{escape(row["name"])}: '
                     f'{row["p50_ms"]:.3f} ms</title></rect>'
                     f'<text x="{label_w + length + 4:.1f}" y="{y + bar - 5}">{row["p50_ms"]:.2f} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: dict) -> str:
    rows = [cell_row(p) for p in result["pipelines"]]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    title = f"mxdeploy run {escape(str(result['run_id']))}"
    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
           f"<style>{CSS}</style></head><body><h1>{title}</h1>",
           f"<p>Started {escape(str(result['started']))}, took {result['seconds']:.1f} s. "
           + escape(", ".join(f"{n} {s}" for s, n in sorted(counts.items()))) + ".</p>",
           '<table id="cells"><thead><tr><th>cell</th><th>status</th><th>target</th><th>first failure</th>'
           "<th>nodes before</th><th>nodes after</th><th>params MB</th><th>max abs err</th><th>p50 ms</th>"
           "</tr></thead><tbody>"]
    for row in rows:
        failure = (f"{escape(row['failed_stage'])}: <code>{escape(row['code'])}</code> {escape(row['problem'])}"
                   if row["failed_stage"] else escape(row["problem"]))
        if row.get("first_divergent"):
            failure += f' (first divergent node: <code>{escape(row["first_divergent"])}</code>)'
        if failure and row["log"]:
            failure += f' (<a href="{escape(row["log"], quote=True)}">log</a>)'
        out.append(f'<tr class="{escape(row["status"])}"><td>{escape(row["name"])}</td>'
                   f'<td class="status">{escape(STATUS_MARK.get(row["status"], row["status"]))}</td>'
                   f'<td>{escape(target_text(row)) or "–"}</td><td>{failure or "–"}</td>'
                   f'<td class="num">{_num(row["nodes_before"], "d")}</td>'
                   f'<td class="num">{_num(row["nodes_after"], "d")}</td>'
                   f'<td class="num">{_num(row["params_mb"], ".2f")}</td>'
                   f'<td class="num">{_num(row["max_abs_err"], ".2e")}</td>'
                   f'<td class="num">{_num(row["p50_ms"], ".2f")}</td></tr>')
    out.append("</tbody></table><h2>Latency (p50)</h2>")
    out.append(latency_chart(rows))
    out.append("<h2>Stages</h2>")
    for p in result["pipelines"]:
        out.append(f"<details><summary>{escape(p['name'])}: {escape(p['status'])}</summary>"
                   "<table><tr><th>#</th><th>stage</th><th>status</th><th>seconds</th><th>diagnostics</th></tr>")
        for i, s in enumerate(p["stages"]):
            diags = "<br>".join(f"<code>{escape(d['code'])}</code> {escape(d['severity'])}: {escape(d['message'])}"
                                for d in s["diagnostics"])
            out.append(f"<tr><td>{i:02d}</td><td>{escape(s['name'])}</td><td>{escape(s['status'])}</td>"
                       f'<td class="num">{s["seconds"]:.2f}</td><td>{diags}</td></tr>')
        out.append("</table></details>")
    out.append("</body></html>\n")
    return "\n".join(out)
