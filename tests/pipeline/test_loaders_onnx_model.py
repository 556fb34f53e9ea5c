"""ONNX validation before import: external data stays in the model's folder, sizes match dims."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from pipeline.core.errors import MxdeployError
from pipeline.onnx.load import load_onnx
from pipeline.onnx.importer.onnxfile import read_onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))
from make_corpus import write_onnx  # noqa: E402


def test_external_data_beside_the_model_loads(tmp_path):
    model = onnx.load_from_string(write_onnx(tmp_path / "in.onnx").read_bytes())
    sub = tmp_path / "m"
    sub.mkdir()
    onnx.save_model(model, str(sub / "model.onnx"), save_as_external_data=True, location="weights.data",
                    size_threshold=0)
    bundle = load_onnx(sub / "model.onnx", {"X": (1, 8)})
    assert bundle.arg_params or bundle.aux_params


def test_external_data_reaching_out_through_a_symlinked_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.data").write_bytes(np.ones(32, "float32").tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "sub").symlink_to(outside)
    path = write_onnx(model_dir / "m.onnx", external={"location": "sub/w.data"})
    with pytest.raises(MxdeployError) as info:
        read_onnx(path)
    assert info.value.code == "ONNX113" and "initializer 'W'" in info.value.where


def test_a_model_without_output_shapes_is_not_refused_by_the_checker(tmp_path):
    model = onnx.load_from_string(write_onnx(tmp_path / "a.onnx").read_bytes())
    model.graph.output[0].type.tensor_type.ClearField("shape")
    (tmp_path / "b.onnx").write_bytes(model.SerializeToString())
    read_onnx(tmp_path / "b.onnx")


def test_importer_errors_name_the_file(tmp_path):
    path = write_onnx(tmp_path / "custom.onnx", op=("MyOp", "com.example"))
    with pytest.raises(MxdeployError) as info:
        load_onnx(path, {"X": (1, 8)})
    assert info.value.code == "ONNX101" and info.value.where.startswith(str(path))


@pytest.mark.parametrize("location", ["../w.data", "sub/w.data"])
def test_the_importer_entry_point_runs_the_external_data_checks(tmp_path, location):
    """A location out of the model's folder, directly or through a symlinked folder, is refused."""

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.data").write_bytes(np.ones(32, "float32").tobytes())
    (tmp_path / "w.data").write_bytes(np.ones(32, "float32").tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "sub").symlink_to(outside)
    path = write_onnx(model_dir / "m.onnx", external={"location": location})
    with pytest.raises(MxdeployError) as info:
        load_onnx(path, {"X": (1, 8)})
    assert info.value.code == "ONNX113"
