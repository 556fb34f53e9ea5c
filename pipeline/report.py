"""report.json (the machine contract of DESIGN.md) and report.md (a table a person reads)."""
from __future__ import annotations

from pathlib import Path

from pipeline import atomic

STATUS_MARK = {"passed": "✅ passed", "cached": "✅ cached", "failed": "❌ failed", "error": "❌ error",
               "crashed": "💥 crashed", "skipped": "– skipped"}


def write_reports(run_dir: Path, result: dict) -> tuple[Path, Path]:
    run_dir = Path(run_dir)
    atomic.write_json(run_dir / "report.json", result)
    atomic.write_text(run_dir / "report.md", render_markdown(result))
    return run_dir / "report.json", run_dir / "report.md"


def first_problem(pipeline: dict) -> tuple[str, str]:
    """(stage name, first error/warning diagnostic code + message) of the first bad stage."""
    for stage in pipeline["stages"]:
        if stage["status"] in ("failed", "error"):
            diags = [d for d in stage["diagnostics"] if d["severity"] == "error"] or stage["diagnostics"]
            text = f"{diags[0]['code']} {diags[0]['message']}" if diags else ""
            return stage["name"], text
    return "", ""


def _verify_metrics(pipeline: dict) -> dict:
    for stage in pipeline["stages"]:
        if stage["name"] == "verify":
            return stage.get("metrics", {})
    return {}


def _fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "–"


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
        "| pipeline | status | stages | max abs err | cosine | p50 ms | first problem |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in pipelines:
        metrics = _verify_metrics(p)
        stage_marks = " → ".join(f"{s['name']}" + ("" if s["status"] in ("passed", "cached") else f" ({s['status']})")
                                 for s in p["stages"])
        stage, problem = first_problem(p)
        if p["status"] == "crashed" and not problem:
            problem = p.get("reason", "")
        problem_text = f"{stage}: {problem}" if stage else problem
        lines.append("| {} | {} | {} | {} | {} | {} | {} |".format(
            p["name"], STATUS_MARK.get(p["status"], p["status"]), stage_marks,
            _fmt(metrics.get("max_abs_err"), ".2e"), _fmt(metrics.get("cosine"), ".6f"),
            _fmt(metrics.get("latency_ms", {}).get("p50"), ".2f"), problem_text.replace("|", "\\|")))
    lines += ["", "## Stages", ""]
    for p in pipelines:
        lines += [f"### {p['name']}", "", "| # | stage | status | seconds | key metrics |", "|---|---|---|---|---|"]
        for i, s in enumerate(p["stages"]):
            shown = {k: v for k, v in s.get("metrics", {}).items() if isinstance(v, (int, float, str))}
            metric_text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in list(shown.items())[:6])
            lines.append(f"| {i:02d} | {s['name']} | {s['status']} | {s['seconds']:.2f} | {metric_text} |")
        diags = [(s["name"], d) for s in p["stages"] for d in s["diagnostics"]]
        if diags:
            lines += ["", "Diagnostics:", ""]
            lines += [f"- `{d['code']}` {d['severity']} in {name}"
                      + (f" at `{d['node']}`" if d.get("node") else "")
                      + f": {d['message']}" + (f" — fix: {d['hint']}" if d.get("hint") else "")
                      for name, d in diags]
        if p.get("log"):
            lines += ["", f"Log: [{p['log']}]({p['log']})"]
        lines.append("")
    return "\n".join(lines) + "\n"
