"""The digits example end to end: int8 and bf16 within one point of fp32 on every quantizing target.

Runs examples/quantize-pipelines.yaml through the real config loader and the worker's
`run_pipeline`, in this process (the quantize stage is registered by the import below).
"""
from pathlib import Path

import numpy as np
import pytest

import stages.quantize  # noqa: F401  (registers quantize)
from pipeline.precision import cpuflags
from pipeline.run.config import load_config
from pipeline.run.worker import run_pipeline

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


FORMATS = {"digits-int8": {"onnxruntime": "onnx-qdq", "openvino": "openvino-ir", "onednn": "mxnet-int8"},
           "digits-bf16": {"openvino": "openvino-bf16", "onednn": "mxnet-bf16"}}


@pytest.mark.parametrize("pipeline", sorted(FORMATS))
def test_digits_within_one_point_of_fp32_on_every_target(tmp_path, pipeline):
    if pipeline == "digits-bf16":
        assert cpuflags.has_bf16(), "this test machine is expected to have avx512_bf16 (see /proc/cpuinfo)"
    cells = load_config(EXAMPLES / "quantize-pipelines.yaml").select([pipeline])
    assert sorted(c.matrix_values["target"] for c in cells) == sorted(FORMATS[pipeline])
    for cell in cells:
        report = run_pipeline(cell, tmp_path, tmp_path / cell.name)
        assert report["status"] == "passed", (cell.name, report)
        by_name = {s["name"]: s for s in report["stages"]}
        quantize, verify = by_name["quantize"]["metrics"], by_name["verify"]["metrics"]
        assert quantize["format"] == FORMATS[pipeline][cell.matrix_values["target"]]
        assert quantize["top1_judged"] is True  # a trained model: top-1 means something here
        assert quantize["top1_agreement"] >= 0.99 and quantize["cosine"] >= 0.99
        assert verify["reference_accuracy"] > 0.95, verify
        assert verify["accuracy_drop"] <= 0.01, (cell.name, verify)
        assert verify["dataset_rows"] == 360
