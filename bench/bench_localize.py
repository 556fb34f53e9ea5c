"""Localization's cost: peak RSS and wall time with the default tap budget vs marking every tensor.

Polygraphy's `--onnx-outputs mark all` is what users reach for; on large models it runs out of
memory. This bench corrupts one Conv weight in the middle of a model's ONNX export and
localizes it with `pipeline compare`'s engine three ways, each in its own child process so each
peak RSS is its own (`VmHWM` of /proc/self/status, which starts afresh at exec; `ru_maxrss`
does not: a child inherits its parent's high-water mark, and an earlier version of this bench
reported the parent's 1578 MiB for every mode):

- `plain`: one untapped forward per side (the memory localization is measured against);
- `bounded`: the bisection with `--max-taps` (default 8, the CLI's default);
- `all`: every matched tensor tapped in one run per side ("mark all").

It prints runs, wall seconds and peak RSS per mode, and the ratio of each peak to `plain`
(the issue's bar: bounded stays below 2x), also counting only what lies above the RSS after the
runtimes are imported (MXNet, ONNX Runtime and OpenVINO alone take several hundred MiB, which
would hide the model's share on a small model). A measurement, not a test.

    PYTHONPATH=. .venv/bin/python bench/bench_localize.py [--model resnet50_v1] [--size 224] [--write]

`--write` replaces the "## Localization (bench/bench_localize.py)" section of BENCHMARKS.md.
Smoke run on a busy machine: `--model resnet18_v1 --size 32`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("plain", "bounded", "all")
HEADING = "## Localization (bench/bench_localize.py)"


def prepare(model: str, size: int, folder: Path) -> tuple[str, str, str]:
    """(checkpoint prefix, corrupted .onnx, --input) for `model`, one middle Conv weight perturbed."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from pipeline.cli import main

    shape = f"data=1,3,{size},{size}"
    prefix, good, bad = folder / "model", folder / "model.onnx", folder / "bad.onnx"
    for argv in (["convert", model, str(prefix), "--input", shape], ["convert", str(prefix), str(good), "--input", shape]):
        if main(argv) != 0:
            raise SystemExit(f"pipeline {' '.join(argv)} failed")
    proto = onnx.load(str(good))
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    weight = next(t for t in proto.graph.initializer if t.name == convs[len(convs) // 2].input[1])
    value = numpy_helper.to_array(weight).copy()
    value += np.random.default_rng(1).normal(0, 0.05, value.shape).astype(value.dtype)
    weight.CopyFrom(numpy_helper.from_array(value, weight.name))
    onnx.save(proto, str(bad))
    return str(prefix), str(bad), shape


def _status_kib(field: str) -> int:
    """A `VmXXX:` line of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(mode: str, prefix: str, bad: str, shape: str, max_taps: int, runtime: str) -> dict:
    """One mode in this process; returns its runs, seconds, peak RSS and finding."""
    from pipeline.localize.localizer import localize
    from pipeline.localize.sides import open_side
    from pipeline.measure.inputs import make_feed
    from pipeline.model.resolve import parse_input_arg

    import stages  # noqa: F401  (the targets and stages, as the CLI registers them)

    imported = _status_kib("VmRSS")  # runtimes loaded, no model yet
    start = time.perf_counter()
    inputs = [parse_input_arg(shape)]
    a, b = open_side(prefix, inputs), open_side(f"{bad}@{runtime}", inputs)
    feed = make_feed(a.inputs, "random", seed=0)
    baseline = (a.run(feed, [])[0], b.run(feed, [])[0])
    finding, runs = None, 1
    if mode != "plain":
        taps = max_taps if mode == "bounded" else 10**9
        data, _ = localize(a, b, feed, atol=1e-4, rtol=1e-3, max_taps=taps, baseline=baseline)
        finding, runs = (data["first_divergent"] or {}).get("node"), 1 + data["runs"]
    peak = _status_kib("VmHWM")
    return {"mode": mode, "runs": runs, "seconds": time.perf_counter() - start, "peak_rss": peak,
            "model_rss": peak - imported, "finding": finding}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50_v1")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--max-taps", type=int, default=8)
    parser.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "openvino"))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PREFIX", "BAD", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.max_taps, args.runtime)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="mxdeploy-bench-localize-") as tmp:
        prefix, bad, shape = prepare(args.model, args.size, Path(tmp))
        for mode in MODES:
            proc = subprocess.run([sys.executable, __file__, "--max-taps", str(args.max_taps), "--runtime",
                                   args.runtime, "--child", mode, prefix, bad, shape],
                                  capture_output=True, text=True, env=dict(os.environ), check=False)
            if proc.returncode != 0:
                raise SystemExit(f"mode {mode} failed:\n{proc.stderr[-2000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    plain = rows[0]["peak_rss"]
    lines = [f"{args.model}, 1x3x{args.size}x{args.size}, checkpoint on MXNet cpu vs corrupted export on "
             f"{args.runtime}, max taps {args.max_taps}.", "",
             "| mode | runs per side | wall s | peak RSS MiB | x plain | above imports MiB | x plain | finding |",
             "|---|---|---|---|---|---|---|---|"]
    model_plain = max(rows[0]["model_rss"], 1)
    for row in rows:
        lines.append(f"| {row['mode']} | {row['runs']} | {row['seconds']:.2f} | {row['peak_rss'] / 2**20:.0f} | "
                     f"{row['peak_rss'] / plain:.2f} | {row['model_rss'] / 2**20:.0f} | "
                     f"{row['model_rss'] / model_plain:.2f} | {row['finding'] or '–'} |")
    bounded = next(r for r in rows if r["mode"] == "bounded")
    lines += ["", f"Bounded localization's peak is {bounded['peak_rss'] / plain:.2f}x the plain forward's "
              f"(the bar: below 2x); its share above the imports is {bounded['model_rss'] / model_plain:.2f}x."]
    body = "\n".join(lines)
    print(body)
    if args.write:
        from bench.benchlib import cpu_description, load_average, write_section

        write_section(HEADING, f"{cpu_description()}; load {load_average()}.\n\n{body}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
