"""A checkpoint's params against its graph, and the damage a raw checkpoint lets us detect."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.core.errors import ModelError
from pipeline.model.resolve import load_checkpoint

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIGITS = [TensorSpec("data", (1, 64))]


@pytest.fixture
def digits(tmp_path):
    for suffix in ("-symbol.json", "-0000.params"):
        (tmp_path / f"digits-mlp{suffix}").write_bytes((EXAMPLES / f"digits-mlp{suffix}").read_bytes())
    return tmp_path / "digits-mlp"


def _code(prefix) -> ModelError:
    with pytest.raises(ModelError) as info:
        load_checkpoint(str(prefix), 0, DIGITS)
    return info.value


def test_mxnet_loads_a_half_zeroed_file_silently_but_we_refuse_it(digits):
    params = Path(f"{digits}-0000.params")
    data = params.read_bytes()
    params.write_bytes(data[:len(data) // 2] + bytes(len(data) - len(data) // 2))
    loaded = mx.nd.load(str(params))  # MXNet: no error, just fewer (or unnamed) arrays
    assert not isinstance(loaded, dict) or len(loaded) < 4
    err = _code(digits)
    assert err.code == "LDR204" and "zero" in err.message


def test_legacy_checkpoint_still_loads():
    bundle = load_checkpoint(str(EXAMPLES / "legacy-mlp"), 0, DIGITS)
    assert bundle.history[-1]["stage"] == "upgrade"


def test_all_zero_weights_are_accepted(digits):
    arrays = {k: mx.nd.zeros(v.shape) for k, v in mx.nd.load(f"{digits}-0000.params").items()}
    mx.nd.save(f"{digits}-0000.params", arrays)
    load_checkpoint(str(digits), 0, DIGITS)


def test_wrong_shape_extra_and_missing_are_named(digits):
    good = mx.nd.load(f"{digits}-0000.params")
    cases = {"LDR207": {**good, "arg:fc2_weight": mx.nd.ones((10, 31))},
             "LDR206": {**good, "aux:bn_moving_mean": mx.nd.ones(3)},
             "MDL005": {k: v for k, v in good.items() if k != "arg:fc1_weight"}}
    for code, arrays in cases.items():
        mx.nd.save(f"{digits}-0000.params", arrays)
        err = _code(digits)
        assert err.code == code and ("fc2_weight" in err.where or "bn_moving_mean" in err.where
                                     or "fc1_weight" in err.message), err.one_line()


def test_a_pickle_is_never_unpickled(tmp_path, digits):
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    Path(f"{digits}-0000.params").write_bytes(pickle.dumps({"arg:fc1_weight": Evil()}))
    assert _code(digits).code == "MDL003" and not marker.exists()
    # and MXNet's own loader, in a child in case it crashes, does not unpickle either
    proc = subprocess.run([sys.executable, "-c", f"import mxnet as mx; mx.nd.load({str(digits) + '-0000.params'!r})"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "MXNetError" in proc.stderr and not marker.exists()


def test_loaders_import_no_pickle_and_call_no_eval():
    root = Path(__file__).resolve().parents[2]
    loaders = [root / "pipeline" / "model" / f for f in ("ndarray_file.py", "params_file.py", "symbol_json.py")]
    for path in loaders + [root / "pipeline" / "run" / "config" / "yamlsafe.py"]:
        text = path.read_text()
        for word in ("import pickle", "eval(", "exec(", "yaml.load(", "yaml.unsafe_load", "allow_pickle=True"):
            assert word not in text, (path, word)
