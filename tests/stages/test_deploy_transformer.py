"""deploy on onnxruntime fuses a GluonNLP transformer's attention, says so in its metrics, and verifies.

A 2-layer BERT from the GluonNLP zoo (tiny widths, random weights); the deploy metrics carry the
fusion counts the issue asks for (attention fused > 0), and verify compares the fused model with
the imperative Gluon block at atol 1e-4 / rtol 1e-3, at the declared size and a second sequence
length (the sequence axis is dynamic).
"""
from __future__ import annotations

import dataclasses

from pipeline.model.resolve import default_zoo_inputs
from stages.deploy import DeployParams
from stages.sources.gluon import GluonParams
from stages.verify import VerifyParams

TINY_BERT = {"num_layers": 2, "units": 32, "hidden_size": 64, "num_heads": 2, "max_length": 64, "embed_size": 32,
             "hparam_allow_override": True, "vocab_size": 100}


def test_bert_on_onnxruntime_is_fused_and_verifies(make_runner):
    inputs = [dataclasses.replace(s, dynamic=(1,) if s.name in ("data0", "data1") else ())
              for s in default_zoo_inputs("bert_12_768_12", TINY_BERT)]
    runner = make_runner(inputs)
    bundle, _ = runner.run("gluon", None, GluonParams(model="bert_12_768_12", kwargs=TINY_BERT))
    deployed, result = runner.run("deploy", bundle, DeployParams(target="onnxruntime"))
    assert result.status == "passed", result.diagnostics
    assert result.metrics["attention_fused"] == 2 and result.metrics["attention_unfused"] == 0
    assert result.metrics["ort_Attention"] == 2 and result.metrics["layernorm_fused"] == 5
    assert not [d for d in result.diagnostics if d.code == "ORT104"]
    _, verified = runner.run("verify", deployed, VerifyParams(atol=1e-4, rtol=1e-3, runs=2, warmup=1))
    assert verified.status == "passed", verified.diagnostics
    assert verified.metrics["second_size"]["shapes"]  # a second sequence length ran, and passed with the first


def test_a_convnet_on_onnxruntime_reports_no_fusion(make_runner):
    runner = make_runner([("data", (1, 3, 16, 16))])
    bundle, _ = runner.run("gluon", None, GluonParams(factory="factories:small_convnet"))
    _, result = runner.run("deploy", bundle, DeployParams(target="onnxruntime"))
    assert result.status == "passed" and "attention_fused" not in result.metrics
