"""The accelerator size descriptors: memory, runtime, dtypes, op set, and no fake deployment."""
import ctypes

import pytest

from pipeline.core.errors import TargetError
from pipeline.targets import TARGETS
from pipeline.targets.elastic_inference import EIA_OPS
from pipeline.targets.sizes import ACCELERATOR_SIZES

GiB = 1 << 30
SIZES = {"eia1.medium": 1, "eia1.large": 2, "eia1.xlarge": 4, "eia2.medium": 2, "eia2.large": 4, "eia2.xlarge": 8}


def registered_op_names() -> set[str]:
    from mxnet.base import _LIB, check_call, py_str

    names = ctypes.POINTER(ctypes.c_char_p)()
    size = ctypes.c_uint()
    check_call(_LIB.MXListAllOpNames(ctypes.byref(size), ctypes.byref(names)))
    return {py_str(names[i]) for i in range(size.value)}


@pytest.mark.parametrize("name,gib", sorted(SIZES.items()))
def test_sizes(name, gib):
    cls = TARGETS.get(name)
    assert cls.memory_bytes == gib * GiB == ACCELERATOR_SIZES[name]
    assert cls.is_accelerator and cls.runtime_mxnet_version == 10901
    assert cls.dtypes == {"float32", "float16"}
    assert cls.supported_ops() == EIA_OPS


def test_every_listed_op_is_a_registered_mxnet_op():
    assert sorted(EIA_OPS - registered_op_names()) == []


def test_inference_ops_are_listed_and_cpu_runs_everything():
    for op in ("Convolution", "FullyConnected", "BatchNorm", "Pooling", "Dropout", "SoftmaxOutput", "Concat"):
        assert op in EIA_OPS
    assert "Custom" not in EIA_OPS and "argmax" not in EIA_OPS
    assert TARGETS.get("cpu").supported_ops() is None and not TARGETS.get("cpu").is_accelerator


def test_accelerator_targets_are_available_through_the_embedded_server():
    for name in SIZES:
        assert TARGETS.get(name).is_available()
