"""`pipeline compare A[@TARGET] B[@TARGET]`: run two models on the same seeded inputs and compare.

The comparison is verify's (pipeline.measure.compare: allclose per element, plus max abs/rel
error, cosine and top-k). `--localize` names the first divergent node (pipeline/localize,
docs/localize.md) within `--max-taps` tapped tensors per run; `--save-repro DIR` writes the
smallest subgraph around it with its input tensors. Exit 0 when the outputs agree, 1 when they
differ, 2 for bad usage (unknown MODEL or target, different inputs, no matched nodes: LOCxxx).
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.errors import UsageError
from pipeline.localize.localizer import DEFAULT_MAX_TAPS, finding_lines, localize
from pipeline.localize.sides import check_same_inputs, open_side
from pipeline.measure.compare import compare
from pipeline.measure.inputs import make_feed
from pipeline.model.resolve import parse_input_arg

HELP = "run two models (MODEL[@TARGET]) on the same inputs; --localize names the first divergent node"
EXIT_AGREE, EXIT_DIFFER = 0, 1


def add_arguments(parser) -> None:
    parser.add_argument("a", metavar="A", help="MODEL[@TARGET]: zoo name, checkpoint prefix, .onnx file or stage folder")
    parser.add_argument("b", metavar="B", help="MODEL[@TARGET], compared against A (A is the reference)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=D1,D2,...",
                        help="an input's shape, for both models; repeatable")
    parser.add_argument("--localize", action="store_true", help="find the first divergent node")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default 1e-4)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("--max-taps", type=int, default=DEFAULT_MAX_TAPS,
                        help=f"tensors tapped per run and side (default {DEFAULT_MAX_TAPS}): bounds memory")
    parser.add_argument("--save-repro", metavar="DIR", default=None,
                        help="write the divergent node's subgraph (ONNX / Symbol JSON) and inputs (.npz) to DIR")


def main(args) -> int:
    if args.max_taps < 1:
        raise UsageError(f"--max-taps must be at least 1, got {args.max_taps}", where="--max-taps")
    if args.atol < 0 or args.rtol < 0:
        raise UsageError("--atol and --rtol must be >= 0", where="--atol")
    if args.save_repro and Path(args.save_repro).exists() and not Path(args.save_repro).is_dir():
        raise UsageError(f"--save-repro {args.save_repro} is a file", where="--save-repro",
                         hint="give a folder (created when missing)")
    inputs = [parse_input_arg(text) for text in args.input]
    a, b = open_side(args.a, inputs), open_side(args.b, inputs)
    check_same_inputs(a, b)
    feed = make_feed(a.inputs, "random", seed=args.seed)
    outs_a, _ = a.run(feed, [])
    outs_b, _ = b.run(feed, [])
    result = compare(outs_a, outs_b, atol=args.atol, rtol=args.rtol)
    report = {"a": a.describe(), "b": b.describe(), "passed": result.passed, "reason": result.reason,
              **result.metrics(), "first_divergent": None}
    if args.localize or args.save_repro:
        if not result.passed or a.quantized or b.quantized:
            data, searcher = localize(a, b, feed, atol=args.atol, rtol=args.rtol, max_taps=args.max_taps,
                                      baseline=(outs_a, outs_b))
            report["localize"] = data
            report["first_divergent"] = data["first_divergent"]
            if args.save_repro and data["first_divergent"] is not None:
                from pipeline.localize.repro import save_repro

                report["repro"] = str(save_repro(Path(args.save_repro), searcher, data))
    if args.json:
        print(json.dumps(report))
    else:
        verdict = "agree" if result.passed else "DIFFER"
        print(f"{a.describe()} vs {b.describe()}: {verdict}: max abs err {result.max_abs_err:.4g}, max rel err "
              f"{result.max_rel_err:.4g}, cosine {result.cosine:.6g}" + (f"; {result.reason}" if result.reason else ""))
        if "localize" in report:
            for line in finding_lines(report["localize"]):
                print(line)
        if "repro" in report:
            print(f"repro written to {report['repro']}")
    return EXIT_AGREE if result.passed else EXIT_DIFFER
