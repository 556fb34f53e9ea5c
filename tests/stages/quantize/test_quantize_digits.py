"""The digits example end to end: int8 within one point of fp32 on every quantizing target.

Runs examples/quantize-pipelines.yaml through the real config loader and the worker's
`run_pipeline`, in this process (the quantize stage is registered by the import below).
"""
from pathlib import Path

import numpy as np

import stages.quantize.stage  # noqa: F401  (registers quantize)
from pipeline.config import load_config
from pipeline.worker import run_pipeline

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_example_data_files_are_what_the_helper_writes(tmp_path):
    import sys

    sys.path.insert(0, str(EXAMPLES))
    try:
        from digits_cnn import write_data
    finally:
        sys.path.remove(str(EXAMPLES))
    for written in write_data(tmp_path):
        shipped = np.load(EXAMPLES / written.name)
        fresh = np.load(written)
        assert sorted(shipped.files) == sorted(fresh.files)
        for name in fresh.files:
            np.testing.assert_array_equal(shipped[name], fresh[name])


def test_digits_int8_within_one_point_of_fp32_on_every_target(tmp_path):
    config = load_config(EXAMPLES / "quantize-pipelines.yaml")
    cells = config.select(["digits-int8"])
    assert sorted(c.matrix_values["target"] for c in cells) == ["onednn", "onnxruntime", "openvino"]
    for cell in cells:
        report = run_pipeline(cell, tmp_path, tmp_path / cell.name)
        stages = {s["name"]: s for s in report["stages"]}
        assert report["status"] == "passed", (cell.name, report)
        quantize, verify = stages["quantize"]["metrics"], stages["verify"]["metrics"]
        assert quantize["top1_judged"] is True  # a trained model: top-1 means something here
        assert quantize["top1_agreement"] >= 0.99 and quantize["cosine"] >= 0.99
        assert verify["reference_accuracy"] > 0.95, verify
        assert verify["accuracy_drop"] <= 0.01, (cell.name, verify)
        assert verify["dataset_rows"] == 360


def test_digits_bf16_within_one_point_of_fp32_on_every_bf16_target(tmp_path):
    from pipeline import cpuflags

    assert cpuflags.has_bf16(), "this test machine is expected to have avx512_bf16 (see /proc/cpuinfo)"
    config = load_config(EXAMPLES / "quantize-pipelines.yaml")
    cells = config.select(["digits-bf16"])
    assert sorted(c.matrix_values["target"] for c in cells) == ["onednn", "openvino"]
    for cell in cells:
        report = run_pipeline(cell, tmp_path, tmp_path / cell.name)
        stages = {s["name"]: s for s in report["stages"]}
        assert report["status"] == "passed", (cell.name, report)
        quantize, verify = stages["quantize"]["metrics"], stages["verify"]["metrics"]
        assert quantize["format"] in ("mxnet-bf16", "openvino-bf16")
        assert quantize["top1_judged"] is True and quantize["top1_agreement"] >= 0.99
        assert verify["accuracy_drop"] <= 0.01, (cell.name, verify)
