"""Nodes before/after `optimize` and p50 latency per target, side by side, for a zoo sample.

    PYTHONPATH=. python bench/bench_targets.py [--models a,b] [--runs 30] [--no-write]

Every model has random weights (nothing is downloaded) and batch 1. For each model the
targets are deployed once and then timed in interleaved rounds (one forward per target per
round), so drift of the machine (turbo, other load) hits all targets alike. Columns:

- `mxnet bind`: the baseline, a plain `sym.bind(mx.cpu(), ..., grad_req='null')` as a user
  writes it. In MXNet 1.9.1 this already applies oneDNN fusion at bind time, because
  MXNET_SUBGRAPH_BACKEND defaults to MKLDNN.
- `bind, no fusion`: the same bind with MXNET_SUBGRAPH_BACKEND=NONE (MXNet's unfused executor).
- `cpu`, `onednn`, `onnxruntime`, `openvino`: the registered targets (the last two only when their
  modules exist in pipeline/targets and their runtimes are installed).
- `cpu + optimize`: the `cpu` target on the bundle after the default optimize passes.

Each latency includes the input copy in and the output copy out (as `Target.infer` does).
The result is printed and written as the "## Targets (bench/bench_targets.py)" section of
BENCHMARKS.md (other sections of that file are kept).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import cpu_description, load_average, write_section  # noqa: E402
from pipeline.graph import random_feed  # noqa: E402
from pipeline.model.zoo_bundle import zoo_bundle  # noqa: E402
from pipeline.targets.base import TARGETS  # noqa: E402
from pipeline.targets.cpu import CpuTarget  # noqa: E402
from pipeline.targets.onednn import OneDnnTarget  # noqa: E402
from stages.optimize import OptimizeParams, optimize  # noqa: E402

MODELS = {"resnet50_v1": 224, "mobilenetv2_1.0": 224, "densenet121": 224, "inceptionv3": 299, "squeezenet1.1": 224}
HEADING = "## Targets (bench/bench_targets.py)"
OPTIONAL_TARGET_MODULES = {"onnxruntime": "pipeline.targets.onnxruntime", "openvino": "pipeline.targets.openvino"}


def load_optional_targets() -> None:
    """Import target modules other helpers add, when present; their import errors are real errors."""
    for module in OPTIONAL_TARGET_MODULES.values():
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


class PlainBind:
    """The baseline: MXNet's Symbol API as a user writes it, optionally with fusion disabled."""

    def __init__(self, bundle, fusion: bool = True):
        import mxnet as mx

        args, aux = bundle.mx_params()
        for spec in bundle.inputs:
            args[spec.name] = mx.nd.zeros(spec.shape, dtype=spec.dtype)
        previous = os.environ.get("MXNET_SUBGRAPH_BACKEND")
        if not fusion:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
        try:
            self.exe = bundle.symbol().bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
        finally:
            if previous is None:
                os.environ.pop("MXNET_SUBGRAPH_BACKEND", None)
            else:
                os.environ["MXNET_SUBGRAPH_BACKEND"] = previous

    def infer(self, feed):
        import mxnet as mx

        outs = self.exe.forward(is_train=False, **{k: mx.nd.array(v, dtype=v.dtype) for k, v in feed.items()})
        return [o.asnumpy() for o in outs]

    def close(self):
        self.exe = None


def runners(bundle, optimized):
    """[(column, object with infer/close)] in column order."""
    found = [("mxnet bind", PlainBind(bundle)), ("bind, no fusion", PlainBind(bundle, fusion=False)),
             ("cpu", CpuTarget().deploy(bundle)), ("onednn", OneDnnTarget().deploy(bundle))]
    for name in OPTIONAL_TARGET_MODULES:
        if name in TARGETS and TARGETS.get(name).is_available():
            found.append((name, TARGETS.get(name)().deploy(bundle)))
    found.append(("cpu + optimize", CpuTarget().deploy(optimized)))
    return found


def measure(columns, feed, runs: int, warmup: int) -> dict[str, float]:
    """p50 milliseconds per column, timed in interleaved rounds.

    In each round every runner does one untimed forward before its timed one: thread pools
    (ONNX Runtime's, OpenMP's) keep spinning for a while after a run, and that untimed
    forward absorbs the previous runner's spin instead of charging it to this one.
    """
    times = {name: [] for name, _ in columns}
    for _ in range(warmup):
        for _, runner in columns:
            runner.infer(feed)
    for _ in range(runs):
        for name, runner in columns:
            runner.infer(feed)
            start = time.perf_counter()
            runner.infer(feed)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.percentile(t, 50)) for name, t in times.items()}


def table(rows, columns) -> str:
    head = ["model", "nodes", "nodes after optimize", "nodes onednn-fused"] + [f"{c} p50 ms" for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        base = row["p50"]["mxnet bind"]
        cells = [row["model"], str(row["nodes"]), str(row["nodes_after"]), str(row["nodes_fused"])]
        cells += [f"{row['p50'][c]:.1f} ({base / row['p50'][c]:.2f}x)" if c in row["p50"] else "n/a" for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(rows, columns, runs: int, loads: tuple[str, str]) -> str:
    import mxnet as mx

    return "\n".join([
        HEADING, "",
        f"Measured by `PYTHONPATH=. python bench/bench_targets.py` on {time.strftime('%Y-%m-%d')}: "
        f"{cpu_description()}. Python {platform.python_version()}, MXNet {mx.__version__}"
        + "".join(f", {name} {TARGETS.get(name).version()}" for name in OPTIONAL_TARGET_MODULES
                  if name in TARGETS and TARGETS.get(name).is_available()) + ".",
        f"Batch 1, random weights, p50 of {runs} interleaved runs; in brackets the speed-up over the "
        "`mxnet bind` baseline (>1 is faster). "
        f"1-minute load average {loads[0]} at the start and {loads[1]} at the end, on {os.cpu_count()} cores "
        "(other processes share this machine; differences of a few percent are noise). "
        "`nodes` counts op nodes (variables excluded); "
        "`nodes after optimize` is after the default passes (strip_training, eliminate, fold_constants, "
        "fold_batchnorm, cse), each verified against the original outputs; `nodes onednn-fused` is the graph "
        "the `onednn` target runs.",
        "`mxnet bind` already fuses with oneDNN at bind time (MXNET_SUBGRAPH_BACKEND defaults to MKLDNN in "
        "MXNet 1.9.1); `bind, no fusion` sets it to NONE; `onednn` deploys the explicitly fused graph.",
        "", table(rows, columns), ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    load_optional_targets()
    rows, columns = [], []
    load_start = load_average()
    for name in args.models.split(","):
        side = MODELS.get(name, 224)
        bundle = zoo_bundle(name, (1, 3, side, side))
        optimized, result = optimize(bundle, OptimizeParams())
        if result.status != "passed":
            raise SystemExit(f"{name}: optimize {result.status}: {[d.one_line() for d in result.diagnostics]}")
        feed = random_feed(bundle.inputs)
        cols = runners(bundle, optimized)
        p50 = measure(cols, feed, args.runs, args.warmup)
        for _, runner in cols:
            runner.close()
        columns = columns or [c for c, _ in cols]
        rows.append({"model": name, "nodes": bundle.node_count(), "nodes_after": optimized.node_count(),
                     "nodes_fused": OneDnnTarget.fused(bundle).node_count(), "p50": p50})
        print(f"{name}: " + ", ".join(f"{c} {v:.1f} ms" for c, v in p50.items()), flush=True)
    text = section(rows, columns, args.runs, (load_start, load_average()))
    print("\n" + text)
    if not args.no_write:
        write_section(HEADING, text.replace(HEADING, "", 1), Path(args.out))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
