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
