"""Golden diagnostics for pipelines files: each mistake, its exact line, column, message and code."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.run.config import load_config
from pipeline.core.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # validate checks referenced files exist (CFG016)
HEAD = "version: 1\npipelines:\n  r18:\n"
GOOD_SOURCE = "    source: {gluon: {model: resnet18_v1}}\n"
GOOD_INPUTS = "    inputs: {data: {shape: [1, 3, 224, 224]}}\n"


def _lines(tmp_path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [line.replace(str(path), "p.yaml") for line in info.value.lines()]


GOLDEN = [
    ("version: 2\npipelines: {}\n", [
        "p.yaml:1:10: version: expected 1, got 2; start the file with 'version: 1' [CFG012]",
        "p.yaml:2:12: pipelines: expected a non-empty mapping of name -> pipeline; add at least one pipeline under 'pipelines:' [CFG006]"]),
    ("version: 1\npipeline: {}\n", [
        "p.yaml:2:1: unknown top-level key 'pipeline' (did you mean 'pipelines'?); expected: version, defaults, pipelines [CFG005]",
        "p.yaml:1:1: pipelines: expected a non-empty mapping of name -> pipeline; add at least one pipeline under 'pipelines:' [CFG006]"]),
    (HEAD + "    source: {gluon: {model: resnet18_v1}, onnx: {path: m.onnx}}\n", [
        "p.yaml:4:13: pipeline 'r18': source: expected exactly one of checkpoint, gluon, onnx, got gluon, onnx; keep one source kind per pipeline [CFG007]"]),
    (HEAD + "    source: {glue: {model: resnet18_v1}}\n", [
        "p.yaml:4:14: pipeline 'r18': source: unknown kind 'glue' (did you mean 'gluon'?); expected one of: checkpoint, gluon, onnx [CFG007]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data: {shape: [1, 3, -1, 224]}}\n", [
        "p.yaml:5:28: pipeline 'r18': inputs.data.shape: expected a list of positive integers, got [1, 3, -1, 224]; give the static shape to serve (mark axes that vary with dynamic: [axes]) [CFG008]"]),
    # typed inputs: range, integer, batch_axis, dynamic (issue 18)
    (HEAD + GOOD_SOURCE + "    inputs: {data0: {shape: [2, 16], range: [5, 5]}}\n", [
        "p.yaml:5:45: pipeline 'r18': inputs.data0.range: low must be below high (finite), got [5, 5); write range: [low, high) with low < high, within what the dtype holds [CFG008]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data0: {shape: [2, 16], dtype: uint8, range: [0, 300]}}\n", [
        "p.yaml:5:59: pipeline 'r18': inputs.data0.range: [0, 300) does not fit uint8 (0..255); write range: [low, high) with low < high, within what the dtype holds [CFG008]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data0: {shape: [2, 16], dtype: float16, range: [0, 30522], integer: true}}\n", [
        "p.yaml:5:61: pipeline 'r18': inputs.data0.range: whole numbers up to 30522 are not exact in float16; write range: [low, high) with low < high, within what the dtype holds [CFG008]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data0: {shape: [2, 16], dynamic: [0, 2]}}\n", [
        "p.yaml:5:47: pipeline 'r18': inputs.data0.dynamic: expected a list of distinct axes of the shape (0..1), got [0, 2]; e.g. dynamic: [0] for the batch, [1] for a (batch, seq) sequence axis [CFG008]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data0: {shape: [16, 2], batch_axis: 2, ranges: [0, 1]}}\n", [
        "p.yaml:5:53: pipeline 'r18': inputs.data0.ranges: unknown key (did you mean 'range'?); an input takes: shape, dtype, range, integer, batch_axis, dynamic [CFG005]",
        "p.yaml:5:50: pipeline 'r18': inputs.data0.batch_axis: expected an axis of the shape (0..1), got 2 [CFG008]"]),
    (HEAD + GOOD_SOURCE + "    inputs: {data: {shape: [1, 3], dtype: float33}}\n", [
        "p.yaml:5:43: pipeline 'r18': inputs.data.dtype: unknown dtype 'float33' (did you mean 'float32'?); expected one of: float32, float16, float64, int32, int64, int8, uint8 [CFG008]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - verfy: {}\n", [
        "p.yaml:7:9: pipeline 'r18': stages[0]: unknown stage 'verfy' (did you mean 'verify'?); known stages: check, deploy, optimize, partition, quantize, verify [CFG009]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - deploy: {targt: cpu}\n", [
        "p.yaml:7:18: pipeline 'r18': stages[0].deploy.targt: unknown parameter 'targt' (did you mean 'target'?); expected one of: target, api, for_training, grad_req, contexts, group2ctxs, optimizer, threads, clip_indices [CFG005]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - verify: {runs: many}\n", [
        "p.yaml:7:24: pipeline 'r18': stages[0].verify.runs: expected an integer, got 'many' [CFG004]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - check: {}\n", [
        "p.yaml:7:16: pipeline 'r18': stages[0].check.target: missing required parameter 'target' (target) [CFG006]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - partition: {target: eia3.large}\n", [
        "p.yaml:7:29: pipeline 'r18': stages[0].partition.target: unknown target 'eia3.large' (did you mean 'eia2.large'?); expected one of: cpu, eia1.large, eia1.medium, eia1.xlarge, eia2.large, eia2.medium, eia2.xlarge, onednn, onnxruntime, openvino [CFG014]"]),
    (HEAD + GOOD_SOURCE + GOOD_INPUTS + "    stages:\n      - gluon: {model: x}\n", [
        "p.yaml:7:9: pipeline 'r18': stages[0]: unknown stage 'gluon'; 'gluon' is a source: put it under 'source:' [CFG009]"]),
    ("version: 1\npipelines:\n  ResNet:\n" + GOOD_SOURCE + GOOD_INPUTS, [
        "p.yaml:3:3: bad pipeline name 'ResNet'; use lowercase letters, digits, '_', '.', '-' and start with a letter or digit [CFG010]"]),
    (HEAD + "    matrix: {model: [a, b]}\n    source: {gluon: {model: '${modle}'}}\n", [
        "p.yaml:3:3: pipeline 'r18': uses ${modle} but the matrix defines only: model; add the variable to matrix: or fix its name [CFG011]"]),
    ("version: 1\ndefaults:\n  verify: {atoll: 1}\npipelines:\n  r18:\n" + GOOD_SOURCE + GOOD_INPUTS + "    stages: [verify]\n", [
        "p.yaml:3:12: pipeline 'r18': stages[0].verify.atoll: unknown parameter 'atoll' (did you mean 'atol'?); expected one of: input, seed, image, labels, atol, rtol, top_k, runs, warmup, dataset, max_accuracy_drop, localize, compare, score_tol, iou_min, score_threshold, min_pixel_agreement, pre_nms [CFG005]"]),
    (HEAD + f"    source: {{checkpoint: {{prefix: {EXAMPLES}/digits-mlp}}}}\n", [
        "p.yaml:3:3: pipeline 'r18': inputs: missing; declare each input's shape, e.g. data: {shape: [1, 3, 224, 224]} [CFG006]"]),
]


@pytest.mark.parametrize("text, expected", GOLDEN, ids=[f"golden{i}" for i in range(len(GOLDEN))])
def test_golden(tmp_path, text, expected):
    lines = _lines(tmp_path, text)
    assert len(lines) == len(expected), lines
    for got, want in zip(lines, expected):
        assert got.startswith(want), f"\n got: {got}\nwant: {want}"


def test_every_config_code_has_a_golden_case():
    import re

    codes = {m for _, lines in GOLDEN for line in lines for m in re.findall(r"\[(CFG\d{3})\]", line)}
    codes |= {"CFG001", "CFG002", "CFG003", "CFG013", "CFG014"}  # in test_yamlsafe.py / CFG014 above by prefix
    assert codes >= {f"CFG{n:03d}" for n in range(1, 15)}


def test_valid_file_loads_with_defaults_merged(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\ndefaults:\n  verify: {atol: 0.5}\npipelines:\n  r18:\n" + GOOD_SOURCE + GOOD_INPUTS
                    + "    stages: [deploy, {verify: {rtol: 0.25}}]\n")
    config = load_config(path)
    (spec,) = config.pipelines
    verify = spec.stages[1].params
    assert (verify.atol, verify.rtol) == (0.5, 0.25)
    assert spec.inputs[0].shape == (1, 3, 224, 224)
