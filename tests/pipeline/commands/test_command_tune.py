"""`pipeline tune`: the table or DESIGN.md's JSON object, exit 0 with a choice and 1 without."""
import argparse
import json

from pathlib import Path

from pipeline.cli import tune as tune_command

# A checkpoint saved from training (SoftmaxOutput and its label): every quantizer has to cope.
MLP = str(Path(__file__).resolve().parents[3] / "examples" / "digits-mlp")


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    tune_command.add_arguments(parser)
    code = tune_command.main(parser.parse_args(argv))
    return code, capsys.readouterr()


def test_json_output_is_the_design_object(capsys):
    code, out = _run([MLP, "--input", "data=1,64", "--holdout", "4", "--samples", "4",
                      "--runs", "2", "--json"], capsys)
    doc = json.loads(out.out)
    assert code == 0
    assert doc["model"] == MLP and set(doc) == {"model", "choice", "table"}
    passed = [r for r in doc["table"] if r["status"] == "passed"]
    best = min(passed, key=lambda r: r["p50_ms"])
    assert doc["choice"] == {"target": best["target"], "precision": best["precision"], "p50_ms": best["p50_ms"],
                             "cosine": best["cosine"]}
    assert {r["precision"] for r in doc["table"]} >= {"fp32", "int8"}
    assert all(r["status"] == "passed" for r in doc["table"]), doc["table"]


def test_table_output_and_exit_1_when_nothing_passes(capsys):
    code, out = _run([MLP, "--input", "data=1,64", "--holdout", "2", "--samples", "2",
                      "--runs", "1", "--min-cosine", "1.5"], capsys)
    assert code == 1
    assert "choice: no deployment passed the guard (cosine >= 1.5" in out.out
    assert "onnxruntime" in out.out and "int8" in out.out


def test_a_candidate_that_crashs_is_a_crashed_row_and_tune_goes_on(tmp_path):
    """A plugin target aborts its process in deploy (tests/plugins/crash_targets.py); another
    raises a runtime's multi-line message. Tune reports both and still picks cpu."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{repo / 'tests' / 'plugins'}",
           "MXDEPLOY_PLUGINS": "crash_targets", "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "pipeline.cli", "tune", MLP, "--input", "data=1,64", "--holdout", "2",
            "--samples", "2", "--runs", "1", "--target", "cpu", "--target", "t_crash", "--target", "t_refuse"]
    proc = subprocess.run([*argv, "--json", "--work-dir", "work"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Stack trace" in (tmp_path / "work" / "t_refuse-fp32" / "log.txt").read_text()  # kept in --work-dir
    doc = json.loads(proc.stdout)
    rows = {r["target"]: r for r in doc["table"]}
    assert rows["t_crash"]["status"] == "crashed" and rows["t_refuse"]["status"] == "error"
    assert rows["cpu"]["status"] == "passed" and doc["choice"]["target"] == "cpu"
    table = subprocess.run(argv, cwd=tmp_path, env={**env, "COLUMNS": "400"}, capture_output=True, text=True,
                           timeout=300)
    assert table.returncode == 0, table.stderr
    crashed = [ln for ln in table.stdout.splitlines() if "t_crash" in ln]
    assert crashed and "TUN103" in crashed[0] and "SIGABRT" in crashed[0], table.stdout
    assert "while ONNX Runtime" in crashed[0], table.stdout  # the breadcrumb: what it was doing
    refused = [ln for ln in table.stdout.splitlines() if "t_refuse" in ln]
    assert refused and "ORT101" in refused[0] and "node 'conv0' (op Conv)" in refused[0], table.stdout
    for text in (table.stdout, table.stderr):
        assert "Stack trace" not in text and "Traceback" not in text and "frame 1" not in text
    # without --work-dir the candidates' temp folder is gone at exit; the logs the rows name are not
    import re

    for line in (crashed[0], refused[0]):
        named = re.findall(r"its log: (\S+)", line)
        assert all(Path(p).is_file() for p in named), line  # an abort that wrote nothing names no log
    refused_log = Path(re.search(r"its log: (\S+)", refused[0]).group(1))
    assert "Stack trace" in refused_log.read_text()  # the runtime's full text, kept
