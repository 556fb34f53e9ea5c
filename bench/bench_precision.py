"""p50 latency of every target x precision side by side, batch 1 and 16, plus batch-16 throughput.

    PYTHONPATH=. python bench/bench_precision.py [--models a,b] [--batches 1,16] [--runs 20] [--no-write]

Every model has random weights (nothing is downloaded). For each model and batch, every
available target x precision (pipeline/precision/tuning.py's candidates: cpu fp32; onednn fp32, bf16, int8;
onnxruntime fp32, int8; openvino fp32, bf16, int8; bf16 only with native CPU bf16) is built
the way `pipeline tune` builds it (int8 calibrated on 16 seeded random rows), deployed once,
checked against fp32 on MXNet's executor over 8 held-out random rows (the quantize guard:
cosine >= 0.99 and relative error <= 0.2 per row; a cell that fails it is marked), then timed in
interleaved rounds (one forward per deployment per round), so drift of the machine hits all
alike. Each latency includes the input copy in and the output copy out (`Target.infer`).

The result is printed and written as the "## Precision (bench/bench_precision.py)" section of
BENCHMARKS.md (other sections are kept), with the CPU model, its precision flags
(avx512_bf16, amx, vnni) and the load average before and after.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import load_average, write_section  # noqa: E402

from pipeline.precision import cpuflags  # noqa: E402
from pipeline.core.errors import MxdeployError  # noqa: E402
from pipeline.model.zoo_bundle import zoo_bundle  # noqa: E402
from pipeline.targets.build import open_target  # noqa: E402
from pipeline.targets.cpu import CpuTarget  # noqa: E402
from pipeline.precision.tuning import TuneSettings, available_candidates, candidate_bundle, tune_options  # noqa: E402
from pipeline.precision.calibration import CalibrationParams, split_feeds  # noqa: E402
from pipeline.precision.guard import judge  # noqa: E402

MODELS = {"resnet50_v1": 224, "mobilenetv2_1.0": 224, "densenet121": 224, "inceptionv3": 299, "squeezenet1.1": 224}
HEADING = "## Precision (bench/bench_precision.py)"
CALIBRATION_ROWS, GUARD_ROWS = 16, 8


def deployments(bundle, work: Path):
    """{(target, precision): (session, guard result)} for every available candidate; errors as text."""
    batch = bundle.inputs[0].shape[0]
    settings = TuneSettings(samples=CALIBRATION_ROWS, holdout=GUARD_ROWS)
    feeds = split_feeds(bundle.inputs, CalibrationParams(samples=max(batch, CALIBRATION_ROWS // batch * batch)),
                        None, holdout=max(batch, GUARD_ROWS // batch * batch), seed=0)
    with CpuTarget(api="symbol") as reference:
        reference.deploy(bundle)
        refs = [reference.infer(f) for f in feeds.holdout]
    out, errors = {}, {}
    for target, precision in available_candidates():
        try:
            cand = candidate_bundle(bundle, target, precision, feeds.calibration, work, work, settings)
            session = open_target(target, cand.metadata, work, **tune_options(target, precision)).deploy(cand)
            guard = judge(refs, [session.infer(f) for f in feeds.holdout], batch, min_cosine=0.99, max_rel_err=0.2,
                          min_top1_agreement=0.99)
            out[(target, precision)] = (session, guard)
        except MxdeployError as exc:
            errors[(target, precision)] = f"{exc.code}"
    return out, errors, feeds.holdout[0]


def measure(sessions: dict, feed, runs: int, warmup: int) -> dict:
    for session, _ in sessions.values():
        for _ in range(warmup):
            session.infer(feed)
    times = {key: [] for key in sessions}
    for _ in range(runs):
        for key, (session, _) in sessions.items():
            started = time.perf_counter()
            session.infer(feed)
            times[key].append((time.perf_counter() - started) * 1e3)
    return {key: float(np.percentile(t, 50)) for key, t in times.items()}


def cell(key, p50s, guards, errors) -> str:
    if key in errors:
        return f"error {errors[key]}"
    if key not in p50s:
        return "-"
    mark = "" if guards[key].passed else f" ✗ (cos {guards[key].min_cosine:.3f})"
    return f"{p50s[key]:.2f}{mark}"


def section(results, batches, columns, runs, loads, argv) -> str:
    flags = cpuflags.precision_flags()
    lines = [f"CPU: {cpuflags.cpu_model()}, {os.cpu_count()} cores; flags: "
             + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())
             + f". 1-minute load average before/after: {loads[0]} / {loads[1]} (2 cores; the bench itself "
               f"keeps about one busy).",
             f"Command: `{' '.join(['python bench/bench_precision.py', *argv])}`; {runs} interleaved timed rounds per "
             f"model and batch. Random weights; int8 calibrated on {CALIBRATION_ROWS} random rows. ✗: the "
             f"deployment failed the quantize guard against fp32 (cosine >= 0.99, relative error <= 0.2 per row, "
             f"{GUARD_ROWS} held-out rows); bf16 only where the CPU has it.", ""]
    header = "| model | " + " | ".join(f"{t} {p}" for t, p in columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    for batch in batches:
        lines += [f"p50 ms, batch {batch}:", "", header, rule]
        for model, by_batch in results.items():
            if batch in by_batch:
                p50s, guards, errors = by_batch[batch]
                lines.append(f"| {model} | " + " | ".join(cell(k, p50s, guards, errors) for k in columns) + " |")
        lines.append("")
    if 16 in batches:
        lines += ["Throughput at batch 16, images/s (16 / p50):", "", header, rule]
        for model, by_batch in results.items():
            if 16 in by_batch:
                p50s, guards, _ = by_batch[16]
                lines.append(f"| {model} | " + " | ".join(
                    f"{16 / p50s[k] * 1e3:.0f}{'' if guards[k].passed else ' ✗'}" if k in p50s else "-"
                    for k in columns) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    columns = available_candidates()
    loads = [load_average()]
    results: dict = {}
    for model in args.models.split(","):
        size = MODELS.get(model, 224)
        for batch in batches:
            print(f"{model} batch {batch} ...", file=sys.stderr, flush=True)
            bundle = zoo_bundle(model, (batch, 3, size, size))
            with tempfile.TemporaryDirectory(prefix="bench-precision-") as tmp:
                sessions, errors, feed = deployments(bundle, Path(tmp))
                p50s = measure(sessions, feed, args.runs, args.warmup)
                for session, _ in sessions.values():
                    session.close()
            results.setdefault(model, {})[batch] = (p50s, {k: g for k, (_, g) in sessions.items()}, errors)
    loads.append(load_average())
    text = section(results, batches, columns, args.runs, loads, argv)
    print(text)
    if not args.no_write:
        write_section(HEADING, text, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
