"""report.json (the machine contract of DESIGN.md) and report.md (a table a person reads)."""
from __future__ import annotations

from pipeline.core.stage import stage_summary

STATUS_MARK = {"passed": "✅ passed", "cached": "✅ cached", "failed": "❌ failed", "error": "❌ error",
               "crashed": "💥 crashed", "skipped": "– skipped"}


def first_problem(pipeline: dict) -> tuple[str, str]:
    """(stage name, first error/warning diagnostic code + message) of the first bad stage."""
    for stage in pipeline["stages"]:
        if stage["status"] in ("failed", "error"):
            diags = [d for d in stage["diagnostics"] if d["severity"] == "error"] or stage["diagnostics"]
            text = f"{diags[0]['code']} {diags[0]['message']}" if diags else ""
            return stage["name"], text
    return "", ""


OK_STATUSES = ("passed", "cached")


def cell_summary(pipeline: dict) -> dict:
    """The summary values the cell's stages declare (Stage.summary_metrics), later stages winning.

    Each stage's report entry records them under "summary"; an entry written before stages
    declared them (an older report.json) gets them from its stage's declaration, when known."""
    found: dict = {}
    for stage in pipeline["stages"]:
        summary = stage["summary"] if "summary" in stage else stage_summary(stage["name"], stage)
        found.update({k: v for k, v in summary.items() if v is not None})
    return found


def target_text(row: dict) -> str:
    """The target column: the target, and the precision when a stage declared one (target: auto)."""
    return " ".join(str(v) for v in (row["target"], row.get("precision")) if v)


def cell_row(pipeline: dict) -> dict:
    """The one-row summary of a cell that report.md, report.html and `pipeline report` show."""
    stages = pipeline["stages"]
    summary = cell_summary(pipeline)
    failed_stage, code, problem, divergent = "", "", "", None
    for stage in stages:
        if stage["status"] in ("failed", "error"):
            diags = [d for d in stage["diagnostics"] if d["severity"] == "error"] or stage["diagnostics"]
            failed_stage = stage["name"]
            code = diags[0]["code"] if diags else ""
            problem = diags[0]["message"] if diags else ""
            divergent = stage.get("metrics", {}).get("first_divergent")
            break
    if pipeline["status"] == "crashed" and not problem:
        problem = pipeline.get("reason", "")
    params_bytes = summary.get("params_bytes")
    return {
        "name": pipeline["name"],
        "status": pipeline["status"],
        "target": str(summary.get("target") or pipeline.get("matrix", {}).get("target", "")),
        "precision": summary.get("precision"),
        "failed_stage": failed_stage,
        "code": code,
        "problem": problem,
        # a stage that localized its failure declares metrics["first_divergent"] (docs/localize.md)
        "first_divergent": divergent.get("node") if isinstance(divergent, dict) else None,
        "nodes_before": summary.get("nodes_before"),
        "nodes_after": summary.get("nodes_after"),
        "params_mb": params_bytes / 1e6 if isinstance(params_bytes, (int, float)) else None,
        "max_abs_err": summary.get("max_abs_err"),
        "p50_ms": summary.get("p50_ms"),
        "log": pipeline.get("log", ""),
    }


def _fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def _line(text) -> str:
    """One Markdown line: a multi-line runtime message would end a list item or a table row."""
    return " ".join(str(text).split())


def _md(text: str) -> str:
    """A table cell: one line, with the column separator escaped."""
    return _line(text).replace("|", "\\|")


def _code(text) -> str:
    """Inline code that survives a backtick in a node name."""
    text = _line(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def render_markdown(result: dict) -> str:
    pipelines = result["pipelines"]
    counts: dict[str, int] = {}
    for p in pipelines:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    lines = [
        f"# mxdeploy run {result['run_id']}",
        "",
        f"Started {result['started']}, took {result['seconds']:.1f} s. "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".",
        "",
        "| cell | status | target | first failure | nodes before → after | params MB | max abs err | p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in pipelines:
        row = cell_row(p)
        failure = f"{row['failed_stage']}: {row['code']} {row['problem']}" if row["failed_stage"] else row["problem"]
        if row["first_divergent"]:
            failure += f" (first divergent node: `{row['first_divergent']}`)"
        if failure and row["log"]:
            failure += f" ([log]({row['log']}))"
        lines.append("| {} | {} | {} | {} | {} → {} | {} | {} | {} |".format(
            _md(row["name"]), STATUS_MARK.get(row["status"], row["status"]), _md(target_text(row)) or "–",
            _md(failure) or "–", _fmt(row["nodes_before"], "d"), _fmt(row["nodes_after"], "d"),
            _fmt(row["params_mb"], ".2f"), _fmt(row["max_abs_err"], ".2e"), _fmt(row["p50_ms"], ".2f")))
    lines += ["", "## Stages", ""]
    for p in pipelines:
        lines += [f"### {p['name']}", "", "| # | stage | status | seconds | key metrics |", "|---|---|---|---|---|"]
        for i, s in enumerate(p["stages"]):
            shown = {k: v for k, v in s.get("metrics", {}).items() if isinstance(v, (int, float, str))}
            metric_text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in list(shown.items())[:6])
            lines.append(f"| {i:02d} | {s['name']} | {s['status']} | {s['seconds']:.2f} | {_md(metric_text)} |")
        diags = [(s["name"], d) for s in p["stages"] for d in s["diagnostics"]]
        if diags:
            lines += ["", "Diagnostics:", ""]
            lines += [f"- {_code(d['code'])} {_line(d['severity'])} in {_line(name)}"
                      + (f" at {_code(d['node'])}" if d.get("node") else "")
                      + f": {_line(d['message'])}" + (f" — fix: {_line(d['hint'])}" if d.get("hint") else "")
                      for name, d in diags]
        if p.get("log"):
            lines += ["", f"Log: [{p['log']}]({p['log']})"]
        lines.append("")
    return "\n".join(lines) + "\n"
