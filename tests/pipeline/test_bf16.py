"""bf16 params stored as float32: exact both ways, and narrowed only where the graph says bf16."""
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.model import bf16

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=5), elements=FINITE))
def test_narrow_then_widen_lands_on_bf16_within_an_ulp_and_is_then_a_fixed_point(x):
    narrowed = bf16.to_ndarrays({"w": x}, {"w"})["w"]
    assert bf16.is_bf16(narrowed)
    widened = bf16.to_numpy(narrowed)
    assert widened.dtype == np.float32 and widened.shape == x.shape
    assert not (widened.view(np.uint32) & 0xFFFF).any()  # a bf16 value: the low 16 bits are zero
    # MXNet 1.9.1's astype truncates toward zero (measured), so within one bf16 ulp (2**-7 relative)
    assert (np.abs(widened) <= np.abs(x)).all()
    tiny = np.finfo(np.float32).tiny  # subnormals may flush to zero
    assert (np.abs(x - widened) <= np.abs(x) * 2.0 ** -7 + tiny).all()
    again = bf16.to_numpy(bf16.to_ndarrays({"w": widened}, {"w"})["w"])
    np.testing.assert_array_equal(again.view(np.uint32), widened.view(np.uint32))  # exact, bit for bit


def test_only_declared_params_are_narrowed_and_names_filter():
    params = {"a": np.ones(3, np.float32), "b": np.ones(3, np.float32), "c": np.arange(3, dtype=np.int32)}
    out = bf16.to_ndarrays(params, {"a"}, names=["a", "c", "missing"])
    assert set(out) == {"a", "c"}
    assert bf16.is_bf16(out["a"]) and out["c"].dtype == np.int32


def test_declared_reads_the_dtype_attribute_of_variables_only():
    graph = {"nodes": [
        {"op": "null", "name": "w", "attrs": {"__dtype__": "12"}, "inputs": []},
        {"op": "null", "name": "b", "attrs": {"__dtype__": "0"}, "inputs": []},
        {"op": "null", "name": "data", "inputs": []},
        {"op": "Cast", "name": "cast", "attrs": {"__dtype__": "12"}, "inputs": [[2, 0, 0]]}]}
    assert bf16.declared(json.dumps(graph)) == frozenset({"w"})
