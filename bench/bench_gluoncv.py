"""The GluonCV sweep (zoo-gluoncv.yaml) and the anchor: the same models through MXNet's own exporter.

    PYTHONPATH=. .venv/bin/python bench/bench_gluoncv.py [--only SUBSTR,...] [--jobs 2] [--no-anchor]
        [--no-sweep] [--results bench/results/gluoncv.json] [--no-write]

1. `pipeline run zoo-gluoncv.yaml --no-cache` (every family x {cpu, onnxruntime, openvino}):
   status and stage seconds per cell, with the first line of each failure.
2. The anchor, per model, in a child process (a runtime crash costs one row): the same bundle
   (zoo-gluoncv.yaml's source and inputs, random weights, calibrated init) exported by MXNet
   1.9.1's `mx.onnx.export_model` with opset 13 pinned (unpinned it stamps opset 23 on opset-13
   translations and ONNX Runtime refuses 18 of these models), run by ONNX Runtime and judged
   with the family's compare mode at the sweep's tolerances: what a user gets without us.

It writes the "## GluonCV families (bench/bench_gluoncv.py)" section of BENCHMARKS.md. Statuses
do not depend on load; the seconds do (the script prints the load average).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.benchlib import ROOT, cpu_description, load_average, write_section  # noqa: E402

ZOO_FILE = ROOT / "zoo-gluoncv.yaml"
# One BENCHMARKS.md section per zoo file: the list, and models of the same families beyond it.
HEADINGS = {"zoo-gluoncv.yaml": "## GluonCV families (bench/bench_gluoncv.py)",
            "zoo-gluoncv-more.yaml": "## GluonCV families beyond the issue's list (bench/bench_gluoncv.py --file "
                                     "zoo-gluoncv-more.yaml)"}
TARGETS = ("cpu", "onnxruntime", "openvino")
ANCHOR_TIMEOUT_S = 1800
ANCHOR_OPSET = 13  # what MXNet 1.9.1's translations are written for


def sweep_models(path: Path = ZOO_FILE) -> list[dict]:
    """(family, model, kwargs, input shape or None, tolerances) for every model of the zoo file."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    verify = doc.get("defaults", {}).get("verify", {})
    rows = []
    for family, spec in doc["pipelines"].items():
        source = spec["source"]["gluon"]
        shape = (spec.get("inputs") or {}).get("data", {}).get("shape")
        for model in spec["matrix"]["model"]:
            rows.append({"family": family, "model": model, "kwargs": dict(source.get("kwargs") or {}),
                         "shape": tuple(shape) if shape else None,
                         "atol": float(verify.get("atol", 1e-4)), "rtol": float(verify.get("rtol", 1e-3))})
    return rows


def cell_name(row: dict, target: str) -> str:
    return f"{row['family']}[model={row['model']},target={target}]"


def run_sweep(out: Path, jobs: int, rows: list[dict], zoo_file: Path = ZOO_FILE) -> dict[str, dict]:
    """`pipeline run` on the zoo file's cells of `rows`; cell name -> {status, seconds, detail}."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(zoo_file), "--no-cache", "--jobs", str(jobs),
           "--out", str(out)]
    for row in rows:
        for target in TARGETS:
            cmd += ["--only", cell_name(row, target)]
    subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    report = json.loads((out / "report.json").read_text())
    cells = {}
    for cell in report["pipelines"]:
        stages = cell.get("stages") or []
        seconds = sum(float(s.get("seconds") or 0) for s in stages)
        detail = next((d.get("message", "") for s in stages for d in s.get("diagnostics") or []
                       if d.get("severity") == "error"), cell.get("error") or "")
        code = next((d.get("code", "") for s in stages for d in s.get("diagnostics") or []
                     if d.get("severity") == "error"), "")
        cells[cell["name"]] = {"status": cell["status"], "seconds": seconds,
                               "detail": _first_line(f"{code} {detail}".strip()) if detail else ""}
    return cells


def anchor(row: dict, folder: str) -> dict:
    """MXNet's own export (opset 13) + ONNX Runtime, judged like verify would (in a child process)."""
    import mxnet as mx
    import onnxruntime as ort

    from pipeline.graph import run_bundle
    from pipeline.measure.inputs import random_feed
    from pipeline.measure.modes import MODES, OPTION_DEFAULTS, default_mode
    from pipeline.model import zoos
    from pipeline.model.bundle import TensorSpec
    from pipeline.model.resolve import default_zoo_inputs, export_block, zoo_block

    name, kwargs = row["model"], row["kwargs"]
    inputs = [TensorSpec("data", row["shape"])] if row["shape"] else default_zoo_inputs(name, kwargs)
    block = zoo_block(name, kwargs)
    zoos.find_zoo(name).calibrate(name, block, inputs, 0)
    bundle = export_block(block, inputs, Path(folder))
    feed = random_feed(bundle.inputs, seed=0)
    ref = run_bundle(bundle, feed)
    params = {**{k: mx.nd.array(v) for k, v in bundle.arg_params.items()},
              **{k: mx.nd.array(v) for k, v in bundle.aux_params.items()}}
    path = str(Path(folder) / "anchor.onnx")
    try:
        with _pinned_opset(ANCHOR_OPSET):
            mx.onnx.export_model(mx.sym.load_json(bundle.symbol_json), params, [s.shape for s in inputs],
                                 [np.float32] * len(inputs), path)
    except Exception as exc:  # noqa: BLE001  (the anchor's refusal is its result)
        return {"status": "export refused", "detail": _first_line(f"{type(exc).__name__}: {exc}")}
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = session.run(None, feed)
    except Exception as exc:  # noqa: BLE001
        return {"status": "ORT refused", "detail": _first_line(f"{type(exc).__name__}: {exc}")}
    mode = default_mode(zoos.find_zoo(name).family(name))
    result = MODES.get(mode)(ref, got, atol=row["atol"], rtol=row["rtol"], top_k=5, options=dict(OPTION_DEFAULTS))
    return {"status": "passed" if result.passed else "failed", "detail": _first_line(result.reason or ""), "mode": mode}


def _first_line(text: str, limit: int = 160) -> str:
    return " ".join(text.split("\n")[0].split())[:limit]


@contextlib.contextmanager
def _pinned_opset(opset: int):
    """export_model takes no opset: it asks onnx.defs.onnx_opset_version() for its translations,
    checks the graph against onnx's newest opset (checker's default context) and declares that
    opset on the model (helper.make_model's default). Pin all three, as a user would have to."""
    import onnx
    from onnx import checker

    context = checker.C.CheckerContext()
    context.ir_version, context.opset_imports = onnx.IR_VERSION, {"": opset}
    check_graph, make_model = checker.check_graph, onnx.helper.make_model
    with mock.patch("onnx.defs.onnx_opset_version", return_value=opset), \
            mock.patch("onnx.checker.check_graph", lambda graph, *a, **k: check_graph(graph, context)), \
            mock.patch("onnx.helper.make_model", lambda graph, **kw: make_model(
                graph, **{"opset_imports": [onnx.helper.make_opsetid("", opset)], **kw})):
        yield


def run_anchor(row: dict, work: Path) -> dict:
    from pipeline.run.child import call_in_child

    folder = work / f"anchor-{row['model']}"
    outcome = call_in_child("bench.bench_gluoncv:anchor", row, str(folder), folder=folder,
                            timeout=ANCHOR_TIMEOUT_S)
    if outcome.status == "ok":
        return outcome.value
    return {"status": "crashed", "detail": _first_line(outcome.reason or "")}


def _cell(cells: dict, family: str, model: str, target: str) -> str:
    cell = cells.get(cell_name({"family": family, "model": model}, target))
    if cell is None:
        return "–"
    text = f"{cell['status']} ({cell['seconds']:.0f} s)"
    return text if cell["status"] in ("passed", "cached") else f"{text}: {cell['detail']}"


def merge_results(path: Path, cells: dict, anchors: dict, run: dict) -> tuple[dict, dict, list[dict]]:
    """Accumulate this run into the results file (a sweep of 78 cells is run in parts on 2 cores)."""
    from pipeline.core import atomic

    old = json.loads(path.read_text()) if path.is_file() else {"cells": {}, "anchors": {}, "runs": []}
    merged = {"cells": {**old["cells"], **cells}, "anchors": {**old["anchors"], **anchors},
              "runs": [*old["runs"], run] if cells or anchors else old["runs"]}  # a render-only call adds no run
    atomic.write_text(path, json.dumps(merged, indent=1, sort_keys=True) + "\n")
    return merged["cells"], merged["anchors"], merged["runs"]


def section(rows, cells, anchors, runs) -> str:
    lines = [f"CPU: {cpu_description()}. Runs (each updates the cells it ran; the table is their union):"]
    lines += [f"- {r['time']} UTC, load {r['loads'][0]} -> {r['loads'][1]}: `python bench/bench_gluoncv.py "
              f"{' '.join(r['argv'])}`" for r in runs]
    lines += ["", "Cells: `pipeline run ZOO_FILE "
             "--no-cache` (random weights, calibrated init, the file's inputs; verify at atol 1e-4 / rtol 1e-3 with "
             "the family's compare mode); seconds are the cell's stage total. Anchor: the same bundle through "
             "MXNet 1.9.1's `mx.onnx.export_model` (opset 13 pinned) + ONNX Runtime, judged the same way.",
             "Seconds depend on the load (2 shared cores); statuses do not.", "",
             "| family | model | cpu | onnxruntime | openvino | anchor: mx.onnx + ORT |", "|---|---|---|---|---|---|"]
    for row in rows:
        a = anchors.get(row["model"])
        anchor_text = "–" if a is None else (a["status"] if a["status"] == "passed" else f"{a['status']}: {a['detail']}")
        lines.append(f"| {row['family']} | {row['model']} | "
                     + " | ".join(_cell(cells, row["family"], row["model"], t) for t in TARGETS)
                     + f" | {anchor_text.replace('|', '/')} |")
    names = {cell_name(r, t) for r in rows for t in TARGETS}
    ran = [c for name, c in cells.items() if name in names]
    passed = sum(c["status"] == "passed" for c in ran)
    shown = [anchors[r["model"]] for r in rows if r["model"] in anchors]
    anchor_passed = sum(a["status"] == "passed" for a in shown)
    lines += ["", f"Ours: {passed}/{len(ran)} cells run passed (of {len(names)} in the file). "
                  f"Anchor: {anchor_passed}/{len(shown)} models passed."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ZOO_FILE), help="the zoo file (zoo-gluoncv.yaml or zoo-gluoncv-more.yaml)")
    parser.add_argument("--only", default="", help="comma-separated model-name substrings (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", help="JSON file the runs accumulate in (e.g. bench/results/gluoncv.json)")
    args = parser.parse_args(argv)
    only = [p for p in args.only.split(",") if p]
    zoo_file = Path(args.file).resolve()
    rows = [r for r in sweep_models(zoo_file) if not only or any(p in r["model"] for p in only)]
    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="bench-gluoncv-") as tmp:
        cells = {} if args.no_sweep else run_sweep(Path(tmp) / "run", args.jobs, rows, zoo_file)
        anchors = {}
        if not args.no_anchor:
            for row in rows:
                print(f"anchor {row['model']} ...", file=sys.stderr, flush=True)
                anchors[row["model"]] = run_anchor(row, Path(tmp))
    loads.append(load_average())
    run = {"time": time.strftime("%Y-%m-%d %H:%M"), "loads": loads, "argv": argv}
    if args.results:
        cells, anchors, runs = merge_results(Path(args.results), cells, anchors, run)
        rows = sweep_models(zoo_file)
    else:
        runs = [run]
    text = section(rows, cells, anchors, runs)
    print(text)
    if not args.no_write:
        write_section(HEADINGS[zoo_file.name], text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
