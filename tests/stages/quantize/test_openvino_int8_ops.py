"""openvino int8 on densenet's shape: NNCF's IR compiles (ONNX Runtime's full QDQ crashed OpenVINO).

The graph below has densenet's shape (BatchNorm -> ReLU -> Conv blocks whose outputs are
concatenated). ONNX Runtime's QDQ model of it, with BatchNormalization or Concat quantized,
crashes OpenVINO 2026.4.1's compile_model (measured: exit -11); openvino's int8 is NNCF's now
(pipeline/precision/nncf_int8.py). Every compile is tried in a child process first, so a
regression fails this test instead of killing pytest.
"""
import subprocess
import sys

import numpy as np

import stages.quantize  # noqa: F401  (registers quantize)
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.precision.calibration import CalibrationParams
from pipeline.precision.settings import QuantizeParams

SHAPE = (1, 3, 16, 16)


def dense_block_bundle() -> ModelBundle:
    import mxnet as mx

    rng = np.random.default_rng(0)
    params, aux = {}, {}

    def conv(h, name, cin, cout):
        params[name + "_weight"] = (rng.standard_normal((cout, cin, 3, 3)) * 0.2).astype(np.float32)
        return mx.sym.Convolution(h, kernel=(3, 3), pad=(1, 1), num_filter=cout, no_bias=True, name=name)

    def batchnorm(h, name, c):
        params[name + "_gamma"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        params[name + "_beta"] = (rng.standard_normal(c) * 0.1).astype(np.float32)
        aux[name + "_moving_mean"] = (rng.standard_normal(c) * 0.1).astype(np.float32)
        aux[name + "_moving_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        return mx.sym.BatchNorm(h, fix_gamma=False, name=name)

    h, channels = conv(mx.sym.var("data"), "conv0", 3, 8), 8
    for i in range(3):
        grown = conv(mx.sym.relu(batchnorm(h, f"bn{i}", channels)), f"conv{i + 1}", channels, 8)
        h, channels = mx.sym.concat(h, grown, dim=1, name=f"concat{i}"), channels + 8
    h = mx.sym.Pooling(mx.sym.relu(batchnorm(h, "bn_last", channels)), global_pool=True, pool_type="avg",
                       kernel=(1, 1))
    params["fc_weight"] = (rng.standard_normal((10, channels)) * 0.1).astype(np.float32)
    params["fc_bias"] = np.zeros(10, np.float32)
    out = mx.sym.FullyConnected(mx.sym.flatten(h), num_hidden=10, name="fc")
    return ModelBundle.from_symbol(out, params, aux, [TensorSpec("data", SHAPE)])


def _compiles_in_a_child(model_file) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import openvino as ov, sys; core = ov.Core(); "
                           "core.compile_model(core.read_model(sys.argv[1]), 'CPU'); print('compiled')",
                           str(model_file)], capture_output=True, text=True, timeout=300)


def test_a_dense_block_quantized_for_openvino_compiles_and_passes_the_guard(make_runner):
    runner = make_runner([("data", SHAPE)])
    params = QuantizeParams(precision="int8", target="openvino", calibration=CalibrationParams(samples=8),
                            holdout=8)
    bundle = dense_block_bundle()
    # the stage deploys on OpenVINO in-process, so compile the file in a child first
    from pipeline.precision.quantizers import QUANTIZERS, QuantizeJob, key
    from pipeline.precision.calibration import split_feeds

    feeds = split_feeds(bundle.inputs, params.calibration, None, holdout=8, seed=0)
    stage_dir = runner.run_dir / "probe"
    stage_dir.mkdir(parents=True)
    made = QUANTIZERS.get(key("int8", "openvino"))(QuantizeJob(bundle, params, feeds.calibration, stage_dir,
                                                               runner.run_dir))
    record = made.metadata["quantized"]
    assert record["format"] == "openvino-ir" and record["quantizer"] == "nncf"
    probe = _compiles_in_a_child(runner.run_dir / record["path"])
    assert probe.returncode == 0 and "compiled" in probe.stdout, probe.stderr[-2000:]
    out, result = runner.run("quantize", bundle, params)
    assert result.status == "passed", result.diagnostics
    assert result.metrics["cosine"] >= 0.99
