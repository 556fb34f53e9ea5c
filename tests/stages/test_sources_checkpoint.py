"""checkpoint source: the committed digits MLP (SoftmaxOutput head) and its legacy pre-1.0 copy."""
import json
import shutil

import mxnet as mx
import numpy as np
import pytest
from sklearn.datasets import load_digits

import stages.sources.checkpoint  # noqa: F401  (registers the stage and the reference)
from pipeline.core.errors import ModelError, UsageError
from pipeline.model.references import REFERENCES
from stages.sources.checkpoint import CheckpointParams, CheckpointSource

DIGITS = [("data", (4, 64))]


def test_digits_checkpoint_loads_with_its_label_head(make_runner):
    runner = make_runner(DIGITS)
    bundle, result = runner.run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    prefix = str((runner.config_dir / "digits-mlp").resolve())
    assert result.status == "passed" and result.metrics["upgraded"] is False
    assert bundle.metadata["reference"] == {"kind": "checkpoint", "prefix": prefix, "epoch": 0}
    assert bundle.metadata["source"] == {"kind": "checkpoint", "prefix": prefix, "epoch": 0}
    assert bundle.metadata["mxnet_version"] == 10901
    assert "softmax_label" in bundle.symbol().list_arguments()
    assert sorted(bundle.arg_params) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]
    assert bundle.history == [{"stage": "checkpoint", "prefix": prefix, "epoch": 0}]


def test_checkpoint_reference_is_the_trained_classifier(make_runner):
    runner = make_runner(DIGITS)
    bundle, _ = runner.run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    digits = load_digits()
    reference = REFERENCES.get("checkpoint")(bundle.metadata["reference"], runner.run_dir)
    correct = 0
    for start in range(0, 400, 4):
        probs = reference.run({"data": digits.data[start:start + 4].astype(np.float32)})[0]
        assert probs.shape == (4, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        correct += int((probs.argmax(axis=1) == digits.target[start:start + 4]).sum())
    assert correct / 400 > 0.9  # the committed model was trained, not random


def test_legacy_checkpoint_is_upgraded_and_recorded(make_runner, capfd):
    runner = make_runner(DIGITS)
    bundle, result = runner.run("checkpoint", None, CheckpointParams(prefix="legacy-mlp"))
    assert "Loading symbol saved by previous version v0.8.0" in capfd.readouterr().err  # MXNet's upgrader ran
    assert result.metrics["upgraded"] is True
    assert bundle.metadata["mxnet_version"] is None  # the file recorded none
    upgrade = bundle.history[0]
    assert upgrade["stage"] == "upgrade" and upgrade["from"].startswith("unrecorded") and upgrade["to"] == "1.9.1"
    assert json.loads(bundle.symbol_json)["attrs"]["mxnet_version"] == ["int", 10901]
    assert bundle.history[1]["stage"] == "checkpoint"
    # the legacy copy folds the /16 scaling into fc1: it computes the same function as digits-mlp
    modern, _ = make_runner(DIGITS).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    feed = {"data": load_digits().data[:4].astype(np.float32)}
    old = REFERENCES.get("checkpoint")(bundle.metadata["reference"], runner.run_dir).run(feed)[0]
    new = REFERENCES.get("checkpoint")(modern.metadata["reference"], runner.run_dir).run(feed)[0]
    np.testing.assert_allclose(old, new, rtol=1e-5, atol=1e-6)


def test_missing_files_and_undeclared_inputs(make_runner, tmp_path):
    with pytest.raises(ModelError) as info:
        make_runner(DIGITS).run("checkpoint", None, CheckpointParams(prefix="digits-mlp", epoch=3))
    assert info.value.code == "MDL001" and info.value.where.endswith("digits-mlp-0003.params")
    with pytest.raises(UsageError) as info:
        make_runner([]).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    assert "needs input shapes for data, softmax_label" in info.value.message
    with pytest.raises(ModelError) as info:
        make_runner([("pixels", (1, 64))]).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    assert info.value.code == "MDL004" and "pixels" in info.value.message


def test_corrupt_files_are_coded(make_runner, tmp_path, examples_copy):
    (examples_copy / "digits-mlp-symbol.json").write_text("{not json")
    with pytest.raises(ModelError) as info:
        make_runner(DIGITS, config_dir=examples_copy).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    assert info.value.code == "MDL002"


def test_params_missing_a_weight_is_refused(make_runner, examples_copy):
    params = examples_copy / "digits-mlp-0000.params"
    arrays = mx.nd.load(str(params))
    del arrays["arg:fc2_bias"]
    mx.nd.save(str(params), arrays)
    with pytest.raises(ModelError) as info:
        make_runner(DIGITS, config_dir=examples_copy).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    assert info.value.code == "MDL005" and "fc2_bias" in info.value.message


def test_undecodable_params_are_coded(make_runner, examples_copy):
    (examples_copy / "digits-mlp-0000.params").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError) as info:
        make_runner(DIGITS, config_dir=examples_copy).run("checkpoint", None, CheckpointParams(prefix="digits-mlp"))
    assert info.value.code == "MDL003"


def test_check_params():
    assert CheckpointSource.check_params(CheckpointParams(prefix="models/resnet-50")) == []
    issues = CheckpointSource.check_params(CheckpointParams(prefix="resnet-50-symbol.json", epoch=-1))
    assert [i.path for i in issues] == [("epoch",), ("prefix",)]


@pytest.fixture
def examples_copy(tmp_path):
    from pathlib import Path

    folder = tmp_path / "copy"
    folder.mkdir()
    src = Path(stages.sources.checkpoint.__file__).resolve().parents[2] / "examples"
    for name in ("digits-mlp-symbol.json", "digits-mlp-0000.params"):
        shutil.copy(src / name, folder / name)
    return folder
