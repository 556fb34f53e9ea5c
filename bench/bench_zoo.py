"""Batch-validate the whole vision zoo twice: a cold run, then a run served from the cache.

Runs `pipeline run zoo.yaml --jobs N` (every Gluon vision model x {cpu, onnxruntime}) with a
fresh cache folder, then the same command again, and writes the wall times, the speed-up
and the statuses into BENCHMARKS.md. Usage: PYTHONPATH=. python bench/bench_zoo.py [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.benchlib import ROOT, cpu_description, load_average, write_section  # noqa: E402

HEADING = "## Model zoo (bench/bench_zoo.py)"


def run_zoo(out: Path, cache: Path, jobs: int) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MXDEPLOY_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(ROOT / "zoo.yaml"), "--jobs", str(jobs),
                    "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds, json.loads((out / "report.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    load_start = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold, report = run_zoo(tmp / "cold", tmp / "cache", args.jobs)
        warm, again = run_zoo(tmp / "warm", tmp / "cache", args.jobs)
    statuses = Counter(p["status"] for p in report["pipelines"])
    warm_statuses = Counter(p["status"] for p in again["pipelines"])
    failed = [f"{p['name']}: {p['status']}" for p in report["pipelines"] if p["status"] != "passed"]
    body = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on {cpu_description()}; 1-minute load average "
        f"{load_start} at the start, {load_average()} at the end (a shared machine).",
        f"`pipeline run zoo.yaml --jobs {args.jobs}`: {len(report['pipelines'])} cells (every Gluon vision zoo "
        "model x {cpu, onnxruntime}: export, deploy, verify at atol 1e-4 / rtol 1e-3), then the same command "
        "again with the cache the first run filled.",
        "",
        "| run | wall time | statuses |",
        "|---|---|---|",
        f"| cold | {cold:.0f} s ({cold / 60:.1f} min) | {dict(statuses)} |",
        f"| cached re-run | {warm:.1f} s | {dict(warm_statuses)} |",
        "",
        f"Cached re-run speed-up: {cold / warm:.1f}x (goal >= 10x). Cold goal: <= 10 minutes on 2 cores.",
        "" if not failed else "Not passed: " + "; ".join(failed),
    ])
    print(body)
    if not args.no_write:
        write_section(HEADING, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
