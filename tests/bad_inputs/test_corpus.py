"""The bad-input corpus through the real CLI: one clear coded line, no traceback, no artifact.

Most cases run batched through `pipeline.cli.main` in two child processes (corpus_child.py:
fd-level capture, so MXNet's native output counts; a native crash shows as a failure naming
the case); a representative subset also runs as `python -m pipeline.cli` in its own process.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from make_corpus import build  # noqa: E402

TRACEBACK_MARKS = ("Traceback (most recent call last)", "[bt]", "Stack trace", 'File "')
# One of each kind, run as separate `python -m pipeline.cli` processes.
SUBPROCESS_SUBSET = ("yaml-stage-typo", "yaml-run-tag", "sym-truncated", "sym-head-output-oob", "prm-truncated",
                     "prm-zeroed-half", "onnx-custom-op", "onnx-ext-dotdot", "cli-bad-input-dim",
                     # the runtime-failure cases (issue 15): one coded line each, no runtime text
                     "yaml-missing-checkpoint", "sym-f64-weights", "onnx-ort-refuses", "cli-tune-candidate-crashes",
                     "cli-openvino-refuses")


def _env() -> dict:
    # crash_targets: the test plugin whose target aborts, for the tune case (tests/plugins/crash_targets.py)
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests' / 'plugins'}", "MXNET_SUBGRAPH_VERBOSE": "0",
            "MXDEPLOY_PLUGINS": "crash_targets", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    cases = {c.id: c for c in build(root)}
    path = root / "cases.json"
    path.write_text(json.dumps([c.__dict__ for c in cases.values()]))
    return root, path, cases


@pytest.fixture(scope="module")
def outcomes(corpus):
    root, path, cases = corpus
    ids = sorted(cases)
    chunks = [ids[0::2], ids[1::2]]
    procs = [subprocess.Popen([sys.executable, str(HERE / "corpus_child.py"), str(path), *chunk], cwd=root,
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for chunk in chunks]
    results, failures = {}, []
    for proc, chunk in zip(procs, chunks):
        out, err = proc.communicate(timeout=600)
        started = None
        for line in out.splitlines():
            if line.startswith("START "):
                started = line[6:]
            elif line.startswith("{"):
                record = json.loads(line)
                results[record["id"]] = record
                started = None
        if proc.returncode != 0 or started:
            failures.append(f"child died (rc {proc.returncode}) while running {started}: {err[-2000:]}")
    assert not failures, failures
    return results


def check_outcome(case, exit_code, stdout: str, stderr: str) -> None:
    """Exit code, exactly one line carrying the code (for a refused input, the only line on
    stderr), no traceback, the file and place in that line, and no artifact left."""
    shown = f"{case.id}: exit {exit_code}\nstderr:\n{stderr}\nstdout:\n{stdout[-1500:]}"
    assert exit_code == case.exit, shown
    for mark in TRACEBACK_MARKS:
        assert mark not in stderr and mark not in stdout, shown
    text = stderr if case.exit == 2 else stderr + stdout
    lines = [ln for ln in text.splitlines() if case.code in ln]
    assert len(lines) == 1, f"{len(lines)} lines carry {case.code}, not one\n" + shown
    if case.exit == 2:  # a refused input: its one line is all stderr says (issue 15, Done when)
        said = [ln for ln in stderr.splitlines() if ln.strip()]
        assert said == lines, "stderr holds more than the one coded line\n" + shown
    line = lines[0]
    assert case.file in line, f"the line does not name {case.file!r}\n" + shown
    assert re.search(case.place, line), f"the line does not point at {case.place!r}\n" + shown
    for path in case.forbid:
        assert not Path(path).exists(), f"{path} exists after the case\n" + shown


def test_corpus_has_at_least_60_distinct_cases_of_each_kind(corpus):
    _, _, cases = corpus
    kinds = {}
    for case in cases.values():
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    assert len(cases) >= 60
    assert set(kinds) == {"yaml", "symbol", "params", "onnx", "cli"} and min(kinds.values()) >= 10, kinds


def test_every_case_gives_one_coded_line_and_no_artifact(corpus, outcomes):
    root, _, cases = corpus
    bad = []
    for cid, case in sorted(cases.items()):
        record = outcomes[cid]
        try:
            check_outcome(case, record["exit"], record["stdout"], record["stderr"])
        except AssertionError as exc:
            bad.append(str(exc))
    assert not bad, f"{len(bad)} of {len(cases)} cases failed:\n\n" + "\n\n".join(bad)
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name == "PWNED"]
    assert not leftovers, leftovers


@pytest.mark.parametrize("cid", SUBPROCESS_SUBSET)
def test_subset_through_python_m_pipeline_cli(corpus, cid):
    root, _, cases = corpus
    case = cases[cid]
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *case.argv], cwd=root, env=_env(),
                          capture_output=True, text=True, timeout=300)
    check_outcome(case, proc.returncode, proc.stdout, proc.stderr)
