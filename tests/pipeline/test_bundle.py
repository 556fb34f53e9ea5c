import json

import mxnet as mx
import numpy as np
import pytest

from pipeline.model.bundle import PARAMS_FILE, SYMBOL_FILE, ModelBundle, TensorSpec, graph_mxnet_version
from pipeline.core.errors import BundleError


def _bundle():
    data = mx.sym.var("data")
    net = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    net = mx.sym.BatchNorm(net, name="bn")
    args = {"fc_weight": np.random.rand(4, 3).astype("float32"), "fc_bias": np.zeros(4, "float32"),
            "bn_gamma": np.ones(4, "float32"), "bn_beta": np.zeros(4, "float32"), "unused": np.ones(1, "float32")}
    aux = {"bn_moving_mean": np.zeros(4, "float32"), "bn_moving_var": np.ones(4, "float32")}
    return ModelBundle.from_symbol(net, args, aux, [TensorSpec("data", (2, 3))], metadata={"source": {"kind": "t"}})


def test_round_trip_keeps_everything(tmp_path):
    bundle = _bundle()
    assert "unused" not in bundle.arg_params  # only graph params are kept
    bundle.save(tmp_path)
    loaded = ModelBundle.load(tmp_path)
    assert loaded.symbol_json == bundle.symbol_json
    assert loaded.inputs == bundle.inputs and loaded.outputs == bundle.outputs
    assert loaded.metadata == bundle.metadata
    for k, v in bundle.arg_params.items():
        np.testing.assert_array_equal(loaded.arg_params[k], v)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.json", PARAMS_FILE, SYMBOL_FILE]


def test_saved_bundle_is_a_standard_checkpoint(tmp_path):
    bundle = _bundle()
    bundle.save(tmp_path)
    sym, args, aux = mx.model.load_checkpoint(str(tmp_path / "model"), 0)
    assert sym.list_outputs() == bundle.outputs
    np.testing.assert_array_equal(args["fc_weight"].asnumpy(), bundle.arg_params["fc_weight"])
    assert set(aux) == set(bundle.aux_params)


def test_zeroed_second_half_is_refused(tmp_path):
    _bundle().save(tmp_path)
    path = tmp_path / PARAMS_FILE
    raw = bytearray(path.read_bytes())
    half = len(raw) // 2
    raw[half:] = bytes(len(raw) - half)
    path.write_bytes(bytes(raw))
    mx.nd.load(str(path))  # MXNet itself accepts the damaged file without complaint...
    with pytest.raises(BundleError) as info:
        ModelBundle.load(tmp_path)  # ...the bundle does not
    assert info.value.code == "BND002" and PARAMS_FILE in info.value.message


def test_missing_and_corrupt_manifest(tmp_path):
    with pytest.raises(BundleError) as info:
        ModelBundle.load(tmp_path)
    assert info.value.code == "BND001"
    _bundle().save(tmp_path)
    (tmp_path / SYMBOL_FILE).unlink()
    with pytest.raises(BundleError) as info:
        ModelBundle.load(tmp_path)
    assert info.value.code == "BND004"
    (tmp_path / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError) as info:
        ModelBundle.load(tmp_path)
    assert info.value.code == "BND003"


def test_graph_version_and_evolve():
    bundle = _bundle()
    assert graph_mxnet_version(bundle.symbol_json) == 10901
    legacy = json.loads(bundle.symbol_json)
    legacy.pop("attrs")
    assert graph_mxnet_version(json.dumps(legacy)) is None
    newer = bundle.evolve(stage="x", details={"n": 1}, metadata={"a": 1})
    assert newer.history[-1] == {"stage": "x", "n": 1} and bundle.history == []
    assert newer.metadata == {"a": 1} and bundle.metadata != newer.metadata


def test_typed_input_declarations_survive_save_and_load(tmp_path):
    """range, integer, batch_axis and dynamic travel in bundle.json; plain inputs keep the old form."""
    import mxnet as mx

    from pipeline.model.bundle import ModelBundle, TensorSpec

    sym = mx.sym.FullyConnected(mx.sym.var("tokens"), num_hidden=2, name="fc")
    spec = TensorSpec("tokens", (16, 2), range=(0, 30522), integer=True, batch_axis=1, dynamic=(0,))
    bundle = ModelBundle.from_symbol(sym, {"fc_weight": np.ones((2, 2), np.float32),
                                           "fc_bias": np.zeros(2, np.float32)}, {}, [spec])
    bundle.save(tmp_path / "b")
    assert ModelBundle.load(tmp_path / "b").inputs == [spec]
    assert TensorSpec("data", (1, 3)).to_dict() == {"name": "data", "shape": [1, 3], "dtype": "float32"}
