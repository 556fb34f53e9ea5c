"""`pipeline validate` refuses a pipelines file whose referenced files are missing (CFG016)."""
from __future__ import annotations

import textwrap

import pytest

import stages  # noqa: F401  (registers the stages whose params declare path fields)
from pipeline.core.errors import ConfigError
from pipeline.run.config import load_config

YAML = """
version: 1
pipelines:
  ck:
    source:
      checkpoint: {prefix: net, epoch: 3}
    inputs:
      data: {shape: [1, 8]}
    stages:
      - verify: {input: dataset, dataset: rows.npz, labels: synset.txt}
  gl:
    source:
      gluon: {factory: "myfactories:make", params: w.params}
    inputs:
      data: {shape: [1, 8]}
    stages:
      - quantize: {precision: int8, target: onnxruntime, calibration: {input: images, path: imgs}}
  on:
    source:
      onnx: {path: sub/m.onnx}
"""


def _issues(tmp_path):
    (tmp_path / "p.yaml").write_text(textwrap.dedent(YAML))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "p.yaml")
    return [e for e in info.value.errors]


def test_every_missing_referenced_file_is_a_located_cfg016(tmp_path):
    (tmp_path / "net-symbol.json").write_text("{}")  # the epoch's params file is the missing half
    issues = _issues(tmp_path)
    got = {e.message.split(": ", 2)[1]: (e.where, e.code) for e in issues}
    assert all(code == "CFG016" for _, code in got.values()), issues
    assert set(got) == {"source.checkpoint.prefix", "stages[0].verify.dataset", "stages[0].verify.labels",
                        "source.gluon.factory", "source.gluon.params", "stages[0].quantize.calibration.path",
                        "source.onnx.path"}, got
    assert got["source.checkpoint.prefix"][0].endswith("p.yaml:6:28")
    assert got["stages[0].verify.labels"][0].endswith("p.yaml:10:61")
    ck = next(e for e in issues if "checkpoint.prefix" in e.message)
    assert "net-0003.params does not exist" in ck.message
    line = ck.one_line()
    assert line.startswith(str(tmp_path / "p.yaml") + ":6:28: ") and line.endswith("[CFG016]")


def test_present_files_pass(tmp_path):
    for name in ("net-symbol.json", "net-0003.params", "rows.npz", "synset.txt", "myfactories.py", "w.params"):
        (tmp_path / name).write_text("x")
    (tmp_path / "imgs").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.onnx").write_text("x")
    (tmp_path / "p.yaml").write_text(textwrap.dedent(YAML))
    config = load_config(tmp_path / "p.yaml")
    assert [p.name for p in config.pipelines] == ["ck", "gl", "on"]
