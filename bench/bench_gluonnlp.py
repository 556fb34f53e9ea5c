"""The GluonNLP sweep: zoo-gluonnlp.yaml (the issue's list) and zoo-gluonnlp-more.yaml, cell by cell.

    PYTHONPATH=. .venv/bin/python bench/bench_gluonnlp.py [--file ZOO_FILE]... [--jobs 1]
        [--cache-dir DIR] [--report ZOO_FILE=REPORT_JSON]... [--results bench/results/gluonnlp.json] [--no-write]

For each zoo file, `pipeline run ZOO_FILE --no-cache` (every model x {cpu, onnxruntime, openvino};
the stage cache goes to --cache-dir, a temporary folder removed afterwards by default), then one
row per cell: status, verify's max abs error at the declared shape and at the second size (the
dynamic axis: sequence x 2), the cell's stage seconds, and the first problem of a cell that did
not pass. `--report FILE=PATH` reads a run already made (`pipeline run FILE --no-cache --out DIR`)
instead of running it again. It writes the "## GluonNLP families (bench/bench_gluonnlp.py)"
section of BENCHMARKS.md and the cells to --results. Statuses and errors do not depend on load;
seconds do.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.benchlib import ROOT, cpu_description, load_average, write_section  # noqa: E402

ZOO_FILES = ("zoo-gluonnlp.yaml", "zoo-gluonnlp-more.yaml")
HEADING = "## GluonNLP families (bench/bench_gluonnlp.py)"
RESULTS = ROOT / "bench" / "results" / "gluonnlp.json"


def run_file(zoo_file: Path, out: Path, jobs: int, cache_dir: Path) -> Path:
    """`pipeline run` on the whole file, no cache; the path of its report.json."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(zoo_file), "--no-cache", "--jobs", str(jobs),
           "--out", str(out), "--cache-dir", str(cache_dir)]
    subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return out / "report.json"


def _models(zoo_file: Path) -> dict[str, str]:
    """pipeline name -> the zoo model its source names."""
    import yaml

    doc = yaml.safe_load(zoo_file.read_text())
    return {name: spec["source"]["gluon"]["model"] for name, spec in doc["pipelines"].items()}


def _problem(cell: dict) -> str:
    """The first error diagnostic of a cell, else its first stage that did not pass."""
    for stage in cell.get("stages") or []:
        for d in stage.get("diagnostics") or []:
            if d.get("severity") == "error":
                return f"{stage['name']}: {d.get('code', '')} {d.get('message', '')}"[:200]
    bad = next((s for s in cell.get("stages") or [] if s.get("status") not in ("passed", "cached")), None)
    return f"{bad['name']}: {bad['status']}" if bad else cell.get("status", "")


def summarize(report_path: Path, zoo_file: Path) -> dict:
    """{started, seconds, cells: cell name -> {model, target, status, err, err_second, seconds, problem}}."""
    models = _models(zoo_file)
    report = json.loads(report_path.read_text())
    cells = {}
    for cell in report["pipelines"]:
        stages = {s["name"]: s for s in cell.get("stages") or []}
        verify = (stages.get("verify") or {}).get("metrics") or {}
        second = verify.get("second_size") or {}
        cells[cell["name"]] = {
            "model": models.get(cell.get("template", ""), cell.get("template", "")),
            "target": (cell.get("matrix") or {}).get("target", ""), "status": cell["status"],
            "err": verify.get("max_abs_err"), "err_second": second.get("max_abs_err"),
            "second_shapes": second.get("shapes"),
            "seconds": round(sum(float(s.get("seconds") or 0) for s in stages.values()), 1),
            "problem": "" if cell["status"] in ("passed", "cached") else _problem(cell)}
    return {"started": report.get("started", ""), "seconds": round(float(report.get("seconds") or 0)), "cells": cells}


def _err(value) -> str:
    return "–" if value is None else f"{value:.2e}"


def table(cells: dict[str, dict]) -> list[str]:
    lines = ["| model | target | status | max abs err (declared) | max abs err (second size) | s | problem |",
             "|---|---|---|---|---|---|---|"]
    for c in cells.values():
        lines.append(f"| {c['model']} | {c['target']} | {c['status']} | {_err(c['err'])} | {_err(c['err_second'])} "
                     f"| {c['seconds']:.0f} | {c['problem'].replace('|', '/')} |")
    passed = sum(c["status"] == "passed" for c in cells.values())
    return lines + ["", f"{passed}/{len(cells)} cells passed."]


def section(results: dict) -> str:
    lines = [f"CPU: {cpu_description()}. Each file run whole with `pipeline run FILE --no-cache` (random "
             "weights, a synthetic vocabulary, the file's typed inputs; verify at atol 1e-4 / rtol 1e-3 at the "
             "declared shape and at the second size, sequence x 2). Seconds are the cell's stage total and depend "
             "on the load (2 shared cores); statuses and errors do not.", "",
             "An error of exactly 0 is not a vacuous comparison (verify's VER120 would say so): the cpu target runs "
             "the LSTM LMs on MXNet's own fused RNN kernel, as the reference does, and OpenVINO computes "
             "awd_lstm_lm_600 bit for bit as MXNet (both on oneDNN's LSTM and matmul; checked output by output, "
             "logits up to 0.53)."]
    for name in ZOO_FILES:
        entry = results.get(name)
        if not entry:
            continue
        load = f", load {entry['loads'][0]} -> {entry['loads'][1]}" if entry.get("loads") else ""
        lines += ["", f"### {name}", "", f"Run started {entry['started']}, {entry['seconds']} s{load}: {entry['how']}",
                  ""]
        lines += table(entry["cells"])
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", action="append", help="a zoo file (default: both GluonNLP files)")
    parser.add_argument("--report", action="append", default=[], metavar="FILE=REPORT_JSON",
                        help="use this run's report.json for FILE instead of running it")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--cache-dir", help="the runs' stage cache (default: a temporary folder, removed)")
    parser.add_argument("--results", default=str(RESULTS), help="JSON file the cells are kept in")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    reports = {Path(k).name: Path(v) for k, v in (item.split("=", 1) for item in args.report)}
    files = args.file or (list(reports) if reports else list(ZOO_FILES))
    results_path = Path(args.results)
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for name in files:
        zoo_file = Path(name) if Path(name).is_absolute() else ROOT / name
        if zoo_file.name in reports:  # a run made before: the load it ran under is not known here
            entry = summarize(reports[zoo_file.name], zoo_file)
            entry.update(how=f"`pipeline run {zoo_file.name} --no-cache`, its report read with --report")
        else:
            loads = [load_average()]
            with tempfile.TemporaryDirectory(prefix="bench-gluonnlp-") as tmp:
                cache = Path(args.cache_dir) if args.cache_dir else Path(tmp) / "cache"
                entry = summarize(run_file(zoo_file, Path(tmp) / "run", args.jobs, cache), zoo_file)
            entry.update(loads=[*loads, load_average()],
                         how=f"`python bench/bench_gluonnlp.py --file {zoo_file.name} --jobs {args.jobs}`")
        results[zoo_file.name] = entry
    from pipeline.core import atomic

    atomic.write_text(results_path, json.dumps(results, indent=1, sort_keys=True) + "\n")
    text = section(results)
    print(text)
    if not args.no_write:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
