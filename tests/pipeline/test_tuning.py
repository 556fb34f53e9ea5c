"""tuning: every candidate guarded and timed, the fastest passing one chosen, refusals explained."""
import pytest

from pipeline.precision import cpuflags
from pipeline.model.bundle import TensorSpec
from pipeline.model.resolve import build_block, export_block
from pipeline.precision.tuning import TuneSettings, available_candidates, candidates, tune

FAST = dict(samples=4, holdout=8, runs=2, warmup=1)


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    block = build_block(factory="factories:small_convnet", kwargs={"classes": 10}, config_dir=examples)
    return export_block(block, [TensorSpec("data", (1, 3, 16, 16))], tmp_path_factory.mktemp("small"))


def test_every_available_candidate_is_in_the_table_and_the_fastest_passing_is_chosen(small_bundle, tmp_path):
    result = tune(small_bundle, settings=TuneSettings(**FAST), work_dir=tmp_path)
    assert [(r.target, r.precision) for r in result.rows] == available_candidates()
    assert all(r.status == "passed" for r in result.rows), [(r.target, r.precision, r.detail) for r in result.rows]
    fastest = min(result.rows, key=lambda r: r.p50_ms)
    assert result.choice is fastest
    assert all(r.p50_ms <= r.p90_ms for r in result.rows)
    fp32 = {r.target: r for r in result.rows if r.precision == "fp32"}
    assert fp32["cpu"].cosine == pytest.approx(1.0) and fp32["cpu"].max_rel_err == 0.0
    assert result.reason.startswith(f"{fastest.target} {fastest.precision} is the fastest of {len(result.rows)}")
    doc = result.to_json("small")
    assert set(doc) == {"model", "choice", "table"}
    assert set(doc["choice"]) == {"target", "precision", "p50_ms", "cosine"}
    assert all(set(row) == {"target", "precision", "status", "p50_ms", "p90_ms", "cosine", "max_rel_err",
                            "top1_agreement"} for row in doc["table"])


def test_candidates_that_drift_are_failed_and_never_chosen(small_bundle, tmp_path):
    result = tune(small_bundle, settings=TuneSettings(max_rel_err=1e-3, **FAST), work_dir=tmp_path,
                  candidates=[("cpu", "fp32"), ("onnxruntime", "int8"), ("onednn", "int8")])
    status = {(r.target, r.precision): r for r in result.rows}
    assert status[("cpu", "fp32")].status == "passed"
    for key in (("onnxruntime", "int8"), ("onednn", "int8")):
        assert status[key].status == "failed" and "max_rel_err 0.001" in status[key].detail
    assert (result.choice.target, result.choice.precision) == ("cpu", "fp32")
    assert "not eligible: onnxruntime int8, onednn int8" in result.reason


def test_no_passing_candidate_means_no_choice(small_bundle, tmp_path):
    result = tune(small_bundle, settings=TuneSettings(min_cosine=1.5, **FAST), work_dir=tmp_path,
                  candidates=[("cpu", "fp32")])
    assert result.choice is None and result.to_json("m")["choice"] is None
    assert result.reason.startswith("no deployment passed the guard (cosine >= 1.5")


def test_bf16_is_a_candidate_only_with_native_bf16():
    with_bf16 = available_candidates(frozenset({"avx512_bf16"}))
    without = available_candidates(frozenset({"avx2"}))
    assert {("openvino", "bf16"), ("onednn", "bf16"), ("openvino", "int8+bf16")} <= set(with_bf16)
    assert all("bf16" not in p for _, p in without) and ("openvino", "int8") in without
    assert set(with_bf16) <= set(candidates())
    assert cpuflags.precision_flags(frozenset({"avx512_bf16", "avx512_vnni", "amx_tile"})) == \
        {"avx512_bf16": True, "amx": True, "vnni": True}
