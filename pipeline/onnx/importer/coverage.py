"""Measured coverage: the ONNX backend node tests shipped in the installed onnx package.

Each test (`onnx/backend/test/data/node/<test>/model.onnx` + `test_data_set_0/*.pb`) is
imported, run on MXNet CPU and compared with the expected outputs (rtol 1e-3, atol 1e-5).
Tests run in worker processes with a per-test timeout: a native MXNet crash or hang costs
that test, not the run. Categories MXNet cannot represent or that are not inference (bf16,
float8, strings, training, random, sequences, optionals, control flow, the ML domain) are
excluded explicitly, each with its reason.

    python -m pipeline.onnx.importer.coverage [--out docs/onnx-coverage.md]
           [--floor-file tests/onnx_coverage_floor.json] [--jobs N] [--only SUBSTRING]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.onnx.importer.coverage_scope import ATOL, RTOL, SCOPE

TIMEOUT_S = 60.0

_EXCLUDED_OPS = {
    "training": {"Adagrad", "Adam", "Momentum", "Gradient", "NegativeLogLikelihoodLoss",
                 "SoftmaxCrossEntropyLoss"},
    "random": {"Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
               "Multinomial"},
    "sequence": {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
                 "SequenceLength", "SequenceMap", "SplitToSequence", "ConcatFromSequence"},
    "optional": {"Optional", "OptionalGetElement", "OptionalHasElement"},
    "control flow": {"If", "Loop", "Scan"},
    "string": {"RegexFullMatch", "StringConcat", "StringNormalizer", "StringSplit", "ImageDecoder"},
}
_EXCLUDED_TYPES = {"BFLOAT16": "bf16", "FLOAT8E4M3FN": "float8", "FLOAT8E4M3FNUZ": "float8",
                   "FLOAT8E5M2": "float8", "FLOAT8E5M2FNUZ": "float8", "FLOAT8E8M0": "float8",
                   "FLOAT4E2M1": "float4", "INT4": "int4", "UINT4": "int4", "STRING": "string",
                   "COMPLEX64": "complex", "COMPLEX128": "complex"}


@dataclass
class TestResult:
    name: str
    ops: str
    status: str  # passed | failed | excluded
    reason: str = ""
    in_scope: bool = False


def node_test_root() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"


def _elem_types(model) -> set[int]:
    types = {t.data_type for t in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        if vi.type.HasField("tensor_type"):
            types.add(vi.type.tensor_type.elem_type)
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                types.add(attr.t.data_type)
            if attr.name == "to":
                types.add(attr.i)
    return types


def classify(test_dir: Path) -> tuple[str, str]:
    """(ops label, exclusion category or '') from the model alone."""
    import onnx

    model = onnx.load(str(test_dir / "model.onnx"), load_external_data=False)
    ops = sorted({n.op_type for n in model.graph.node})
    domains = {n.domain for n in model.graph.node} - {"", "ai.onnx"}
    base = re.sub(r"_expanded.*$", "", test_dir.name)
    if base != test_dir.name and (test_dir.parent / base / "model.onnx").is_file():
        sibling = onnx.load(str(test_dir.parent / base / "model.onnx"), load_external_data=False)
        ops_label = "+".join(sorted({n.op_type for n in sibling.graph.node}))
    else:
        ops_label = "+".join(ops)
    if domains:
        return ops_label, f"domain {', '.join(sorted(domains))}"
    if "training" in test_dir.name:
        return ops_label, "training"
    for category, names in _EXCLUDED_OPS.items():
        if names & set(ops) or names & set(ops_label.split("+")):
            return ops_label, category
    for vi in list(model.graph.input) + list(model.graph.output):
        if not vi.type.HasField("tensor_type"):
            return ops_label, "sequence" if vi.type.HasField("sequence_type") else "optional"
    for t in _elem_types(model):
        name = onnx.TensorProto.DataType.Name(t) if t in onnx.TensorProto.DataType.values() else ""
        if name in _EXCLUDED_TYPES:
            return ops_label, _EXCLUDED_TYPES[name]
    return ops_label, ""


def _load_pbs(folder: Path, prefix: str) -> list:
    import onnx
    from onnx import numpy_helper

    arrays = []
    for pb in sorted(folder.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1])):
        tensor = onnx.TensorProto()
        tensor.ParseFromString(pb.read_bytes())
        arrays.append(numpy_helper.to_array(tensor))
    return arrays


def compare(expected, got) -> str:
    """'' when `got` matches `expected` within RTOL/ATOL, else why not (pure function).

    The rule is `pipeline.measure.compare`'s (the one comparator), with NaN equal to NaN at the
    same place as ONNX's own runner counts it. Two things are the sweep's: a 0-d expected value
    matches MXNet's (1,) (MXNet has no scalars), and booleans must be equal exactly (a bool
    compared as 0/1 within a tolerance could pass a flipped mask).
    """
    import numpy as np

    from pipeline.measure.compare import compare as compare_outputs

    if expected.shape != got.shape:
        if expected.size == got.size and expected.ndim == 0:
            got = got.reshape(expected.shape)
        else:
            return f"shape {got.shape} != expected {expected.shape}"
    if expected.dtype == np.bool_:
        ok = np.array_equal(expected, got.astype(bool))
        return "" if ok else "boolean values differ"
    result = compare_outputs([expected], [got], atol=ATOL, rtol=RTOL, equal_nan=True, top_k=1)
    if result.passed:
        return ""
    if np.isnan(result.max_abs_err):  # a NaN on one side only: the comparator's reason says which
        return f"values differ ({result.reason})"
    return f"values differ (max abs err {result.max_abs_err:.3g})"


def _source_inputs(model, tensor: str) -> list[str]:
    """The graph inputs a tensor's value is computed from (itself, when it is one)."""
    producers = {out: node for node in model.graph.node for out in node.output}
    inputs = {vi.name for vi in model.graph.input}
    found, stack, seen = [], [tensor], set()
    while stack:
        name = stack.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        if name in inputs:
            found.append(name)
        elif name in producers:
            stack.extend(producers[name].input)
    return sorted(found)


def run_test(test_dir: str) -> tuple[str, str]:
    """Import and run one test in this process: ('passed'|'failed', reason)."""
    import numpy as np

    from pipeline.core.errors import MxdeployError
    from pipeline.targets.cpu import CpuTarget
    from pipeline.onnx.load import load_onnx
    from pipeline.onnx.importer.errors import DynamicValueError

    folder = Path(test_dir)
    import onnx

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    data_dir = folder / "test_data_set_0"
    inputs = _load_pbs(data_dir, "input")
    expected = _load_pbs(data_dir, "output")
    inits = {t.name for t in model.graph.initializer}
    names = [vi.name for vi in model.graph.input if vi.name not in inits]
    feed = dict(zip(names, inputs))
    frozen: dict = {}
    try:
        while True:
            try:
                bundle = load_onnx(folder / "model.onnx", {n: tuple(a.shape) for n, a in feed.items()},
                                     constants=frozen)
                break
            except DynamicValueError as exc:
                # ONNX's tests feed axes/shapes as graph inputs; a real model has them as constants.
                # The tensor itself when it is an input; else the integer inputs it is computed from
                # (never a float data input, which would turn the whole test into constants).
                sources = [exc.tensor] if exc.tensor in feed else \
                    [n for n in _source_inputs(model, exc.tensor) if n in feed and feed[n].dtype.kind in "iu"]
                if not sources:
                    raise
                for name in sources:
                    frozen[name] = feed.pop(name)
        specs = {s.name: s for s in bundle.inputs}
        feed = {n: np.asarray(a).astype(specs[n].dtype).reshape(specs[n].shape) for n, a in feed.items()
                if n in specs}
        if any(a.size == 0 for a in feed.values()):
            return "failed", "zero-sized input (MXNet 1.9.1 legacy shapes cannot hold it)"
        with CpuTarget(api="symbol") as target:
            target.deploy(bundle)
            outputs = target.infer(feed)
    except MxdeployError as exc:
        return "failed", f"{exc.code} {exc.message}"[:300]
    except Exception as exc:  # noqa: BLE001 - a failing test is data here, with its reason
        from pipeline.core.runtime_errors import first_error_line

        return "failed", f"{type(exc).__name__}: {first_error_line(exc)}"[:300]
    if len(outputs) != len(expected):
        return "failed", f"{len(outputs)} outputs, expected {len(expected)}"
    for k, (e, g) in enumerate(zip(expected, outputs)):
        why = compare(np.asarray(e), np.asarray(g))
        if why:
            return "failed", f"output {k}: {why}"
    return "passed", (f"input(s) frozen to the test's values: {', '.join(frozen)}" if frozen else "")


def _worker_main(conn) -> None:
    import logging
    import os
    import warnings

    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    while True:
        try:
            test_dir = conn.recv()
        except EOFError:
            return
        if test_dir is None:
            return
        conn.send(run_test(test_dir))


class _Worker:
    """One spawned process that runs tests one at a time; replaced after a crash or timeout."""

    def __init__(self):
        self._ctx = multiprocessing.get_context("spawn")
        self._start()

    def _start(self):
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def run(self, test_dir: str, timeout: float) -> tuple[str, str]:
        try:
            self.conn.send(test_dir)
            if self.conn.poll(timeout):
                return self.conn.recv()
            reason = f"timeout after {timeout:.0f} s"
        except (EOFError, ConnectionError, BrokenPipeError):
            reason = "worker crashed"
        self.proc.join(0.1)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        if reason == "worker crashed":
            reason = f"native crash (worker exit code {self.proc.exitcode})"
        self._start()
        return "failed", reason

    def close(self):
        try:
            self.conn.send(None)
        except (BrokenPipeError, ConnectionError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def run_sweep(names: list[str] | None = None, jobs: int = 2, timeout: float = TIMEOUT_S) -> list[TestResult]:
    root = node_test_root()
    dirs = sorted(p for p in root.iterdir() if (p / "model.onnx").is_file())
    if names is not None:
        wanted = set(names)
        dirs = [d for d in dirs if d.name in wanted]
    results: dict[str, TestResult] = {}
    todo = []
    for d in dirs:
        ops, excluded = classify(d)
        in_scope = all(o in SCOPE for o in ops.split("+")) and bool(ops)
        if excluded:
            results[d.name] = TestResult(d.name, ops, "excluded", excluded, in_scope)
        else:
            results[d.name] = TestResult(d.name, ops, "pending", "", in_scope)
            todo.append(d)
    chunks = [todo[k::jobs] for k in range(jobs)]

    def drain(chunk):
        worker = _Worker()
        try:
            for d in chunk:
                status, reason = worker.run(str(d), timeout)
                results[d.name].status, results[d.name].reason = status, reason
        finally:
            worker.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(drain, chunks))
    return [results[d.name] for d in dirs]


def totals(results: list[TestResult]) -> dict:
    considered = [r for r in results if r.status != "excluded"]
    scoped = [r for r in considered if r.in_scope]

    def pct(part, whole):
        return round(100.0 * part / whole, 1) if whole else 0.0

    passed = sum(r.status == "passed" for r in considered)
    scoped_passed = sum(r.status == "passed" for r in scoped)
    frozen = sum(r.status == "passed" and r.reason.startswith("input(s) frozen") for r in considered)
    scoped_frozen = sum(r.status == "passed" and r.reason.startswith("input(s) frozen") for r in scoped)
    return {"tests": len(results), "excluded": len(results) - len(considered), "considered": len(considered),
            "passed": passed, "passed_pct": pct(passed, len(considered)), "passed_with_frozen_inputs": frozen,
            "in_scope": len(scoped), "in_scope_passed": scoped_passed,
            "in_scope_pct": pct(scoped_passed, len(scoped)),
            "in_scope_pct_without_frozen": pct(scoped_passed - scoped_frozen, len(scoped)),
            "passed_pct_without_frozen": pct(passed - frozen, len(considered))}


def main(argv: list[str] | None = None) -> int:
    from pipeline.onnx.importer.coverage_report import check_floor, write_report

    parser = argparse.ArgumentParser(prog="python -m pipeline.onnx.importer.coverage",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="write the markdown report here (e.g. docs/onnx-coverage.md)")
    parser.add_argument("--floor-file", default=None, help="fail (exit 1) when passes drop below this floor")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="run only tests whose name contains this")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S)
    args = parser.parse_args(argv)
    names = None
    if args.only:
        names = [p.name for p in node_test_root().iterdir() if args.only in p.name]
    start = time.time()
    results = run_sweep(names, jobs=args.jobs, timeout=args.timeout)
    summary = totals(results)
    summary["seconds"] = round(time.time() - start, 1)
    print(json.dumps(summary))
    if args.out:
        write_report(results, summary, Path(args.out))
    if args.floor_file:
        problems = check_floor(summary, Path(args.floor_file))
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    return 0


__all__ = ["SCOPE", "TestResult", "classify", "compare", "run_sweep", "run_test", "totals"]

if __name__ == "__main__":
    sys.exit(main())
