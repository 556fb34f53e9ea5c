"""ResNet-50 v1, batch 1, ONNX Runtime: params listed among the graph inputs vs kept out of them.

MXNet's exporter lists every param among the graph inputs; ONNX Runtime then treats them as
overridable, so it neither constant-folds nor fuses them. pipeline/onnx/export.py keeps them
out. This measures both forms of the same export side by side in one process (alternating
rounds, so drift on a shared machine hits both alike) and prints the ratio. A measurement,
not a test: nothing here asserts a speed.

    PYTHONPATH=. .venv/bin/python bench/bench_onnx_export.py [--rounds 10] [--runs 10] [--write]

`--write` replaces the "## ONNX export (bench/bench_onnx_export.py)" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchlib import cpu_description, write_section  # noqa: E402
from pipeline.model.bundle import TensorSpec  # noqa: E402
from pipeline.onnx.export import initializers_as_inputs, to_onnx  # noqa: E402
from pipeline.model.resolve import export_block, zoo_block  # noqa: E402

HEADING = "## ONNX export (bench/bench_onnx_export.py)"
MODEL, SHAPE = "resnet50_v1", (1, 3, 224, 224)


def session(model, threads: int, optimized_path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.optimized_model_filepath = str(optimized_path)  # to count what ORT fused
    options.log_severity_level = 3  # the "initializer appears in graph inputs" warnings are the point
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def main(argv=None) -> int:
    import onnx
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per form per round")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)

    load_before = " ".join(f"{v:.1f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = export_block(zoo_block(MODEL), [TensorSpec("data", SHAPE)], tmp)
        clean = to_onnx(bundle)
        raw = initializers_as_inputs(clean, list(bundle.arg_params) + list(bundle.aux_params))
        forms = {"params among graph inputs (MXNet's export)": raw,
                 "params kept out of graph inputs (ours)": clean}
        sessions, nodes = {}, {}
        for i, (label, model) in enumerate(forms.items()):
            sessions[label] = session(model, args.threads, tmp / f"opt{i}.onnx")
            nodes[label] = (len(model.graph.node), len(onnx.load(str(tmp / f"opt{i}.onnx")).graph.node))
    x = np.random.RandomState(0).rand(*SHAPE).astype(np.float32)
    outs = {k: s.run(None, {"data": x})[0] for k, s in sessions.items()}
    max_diff = float(np.abs(outs[list(forms)[0]] - outs[list(forms)[1]]).max())
    for s in sessions.values():  # warm-up
        for _ in range(5):
            s.run(None, {"data": x})
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(args.rounds):
        for label, s in sessions.items():
            for _ in range(args.runs):
                start = time.perf_counter()
                s.run(None, {"data": x})
                times[label].append((time.perf_counter() - start) * 1e3)

    p50 = {k: float(np.percentile(v, 50)) for k, v in times.items()}
    p90 = {k: float(np.percentile(v, 90)) for k, v in times.items()}
    raw_label, clean_label = list(forms)
    lines = [
        f"{MODEL}, batch 1, {SHAPE[2]}x{SHAPE[3]}, random weights; onnxruntime {ort.__version__}, "
        f"CPUExecutionProvider, ORT_ENABLE_ALL, {args.threads} intra-op threads; "
        f"{args.rounds} alternating rounds x {args.runs} runs per form.",
        f"CPU: {cpu_description()}; load average before/after: {load_before} / "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} (the machine is shared: compare rows, not runs).",
        "",
        "| export form | ONNX nodes | nodes after ORT optimization | p50 ms | p90 ms |",
        "|---|---|---|---|---|",
    ]
    for label in forms:
        lines.append(f"| {label} | {nodes[label][0]} | {nodes[label][1]} | {p50[label]:.1f} | {p90[label]:.1f} |")
    lines += ["", f"p50 ratio (params as inputs / kept out): **{p50[raw_label] / p50[clean_label]:.2f}x**; "
                  f"max abs difference between the two forms' outputs: {max_diff:.1e}. The node counts show "
                  "what ORT could fold and fuse (Conv+BatchNorm, Conv+Add+Relu) and do not depend on load; "
                  "the latencies do.", "",
              f"Command: `PYTHONPATH=. .venv/bin/python bench/bench_onnx_export.py --rounds {args.rounds} "
              f"--runs {args.runs}{' --write' if args.write else ''}`"]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(HEADING, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
