"""`pipeline tune` on one model, written as the "## Tune" section of BENCHMARKS.md.

    PYTHONPATH=. python bench/bench_tune.py [--model resnet50_v1] [--size 224] [--holdout 200] [--no-write]

The same call `pipeline tune MODEL --input data=1,3,S,S` makes (pipeline/precision/tuning.py): every
available target x precision built, guarded against fp32 on MXNet's executor over `--holdout`
random inputs (cosine >= 0.99, relative error <= 0.2 on each), timed, and the fastest passing
one chosen. The section states the choice as a ratio to ONNX Runtime fp32 measured in the
same run (the issue's goal: at most 0.5x), then the whole table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.benchlib import BENCHMARKS, cpu_description, load_average, write_section  # noqa: E402

HEADING = "## Tune (pipeline tune resnet50_v1)"


def section(model: str, size: int, result, settings, loads: tuple[str, str]) -> str:
    rows = {(r.target, r.precision): r for r in result.rows}
    baseline = rows.get(("onnxruntime", "fp32"))
    lines = [f"`pipeline tune {model} --input data=1,3,{size},{size} --holdout {settings.holdout}` "
             f"(through `python bench/bench_tune.py`): {settings.samples} random calibration inputs, "
             f"{settings.holdout} held-out random inputs for the guard, {settings.runs} timed forwards per "
             f"deployment. CPU: {cpu_description()}; 1-minute load average before/after: {loads[0]} / {loads[1]}. "
             "Random weights (calibrated init). Top-1 agreement is judged only where fp32's own top-1 varies "
             "across the held-out inputs, and then against how often fp32 flips under noise of the size the "
             "numeric thresholds admit (docs/quantize.md).", ""]
    choice = result.choice
    if choice is None:
        lines.append(f"Choice: none. {result.reason}")
    else:
        ratio = (f" = {choice.p50_ms / baseline.p50_ms:.2f}x ONNX Runtime fp32 ({baseline.p50_ms:.1f} ms) in the "
                 f"same run" if baseline and baseline.p50_ms else "")
        lines.append(f"Choice: **{choice.target} {choice.precision}**, p50 {choice.p50_ms:.1f} ms{ratio}, with "
                     f"cosine >= {choice.cosine:.4f} against fp32 on each of the {settings.holdout} inputs.")
    lines += ["", "| target | precision | status | p50 ms | p90 ms | min cosine | max rel err | top-1 agr. |",
              "|---|---|---|---|---|---|---|---|"]
    for r in result.rows:
        cells = [r.target, r.precision, r.status + (" (choice)" if r is choice else "")]
        cells += ["-" if v is None else f"{v:.1f}" for v in (r.p50_ms, r.p90_ms)]
        cells += ["-" if v is None else f"{v:.6f}" for v in (r.cosine, r.max_rel_err)]
        cells += ["-" if r.top1_agreement is None else f"{r.top1_agreement:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from pipeline.model.zoo_bundle import zoo_bundle
    from pipeline.precision.tuning import TuneSettings, tune

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50_v1")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--holdout", type=int, default=TuneSettings.holdout)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    settings = TuneSettings(holdout=args.holdout)
    before = load_average()
    result = tune(zoo_bundle(args.model, (1, 3, args.size, args.size)), settings=settings,
                  progress=lambda t, p: print(f"tuning {t} {p} ...", file=sys.stderr, flush=True))
    text = section(args.model, args.size, result, settings, (before, load_average()))
    print(text)
    if not args.no_write:
        heading = HEADING.replace("resnet50_v1", args.model)
        write_section(heading, text, BENCHMARKS)
    return 0 if result.choice is not None else 1


if __name__ == "__main__":
    sys.exit(main())
