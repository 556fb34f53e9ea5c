"""The memory estimate against the total MXNet's own executor reports.

`Executor.debug_str()` ends with "Total N MB allocated": the planned activation buffers, in
whole MB (rounded down). The estimate's activation part is compared with that number with
MXNet's oneDNN subgraph fusion off (MXNET_SUBGRAPH_BACKEND=NONE, read at every bind), so both
plan the same graph. The whole vision zoo at batch 1 and 32 takes about 20 s.
"""
import json
import re

import mxnet as mx
import pytest

from pipeline.measure import memory
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.model.resolve import ZOO_NAMES, load_model

MB = 1 << 20
TOLERANCE = 0.25


def reported_mb(sym, shapes) -> int:
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **shapes)
    return int(re.search(r"Total (\d+) MB allocated", exe.debug_str()).group(1))


def assert_close(estimate_bytes: int, mb: int):
    """MXNet's N MB means [N, N+1) MB; the estimate must be within 25% of that interval."""
    lo, hi = mb * MB, (mb + 1) * MB
    gap = max(lo - estimate_bytes, estimate_bytes - hi, 0)
    assert gap <= TOLERANCE * max(lo, MB), (estimate_bytes / MB, mb)


@pytest.fixture
def unfused(monkeypatch):
    monkeypatch.setenv("MXNET_SUBGRAPH_BACKEND", "NONE")


def _check_zoo(name, batch):
    """The zoo graph only (a HybridBlock called on a Symbol needs no initialized params)."""
    from mxnet.gluon.model_zoo import vision

    side = 299 if name.startswith("inception") else 224
    sym = vision.get_model(name)(mx.sym.var("data"))
    bundle = ModelBundle(sym.tojson(), {}, {}, [TensorSpec("data", (batch, 3, side, side))])
    est = memory.estimate(bundle)
    assert_close(est.activation_bytes, reported_mb(sym, bundle.input_shapes()))
    assert est.input_bytes == batch * 3 * side * side * 4


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_estimate_matches_mxnet_planner_on_the_whole_zoo(unfused, name, batch):
    _check_zoo(name, batch)


def test_params_and_inputs_are_counted_exactly():
    bundle = load_model("squeezenet1.1")
    est = memory.estimate(bundle)
    assert est.params_bytes == bundle.params_bytes() > 0
    assert est.total_bytes == est.params_bytes + est.input_bytes + est.activation_bytes


def _probe(op):
    d = mx.sym.var("data")
    r = mx.sym.relu(d)
    return {
        "max_pool": lambda: mx.sym.Pooling(r, kernel=(2, 2), stride=(2, 2), pool_type="max"),
        "avg_pool": lambda: mx.sym.Pooling(r, kernel=(2, 2), stride=(2, 2), pool_type="avg"),
        "dropout": lambda: mx.sym.Dropout(r, p=0.5),
        "batchnorm": lambda: mx.sym.BatchNorm(r),
        "leaky": lambda: mx.sym.LeakyReLU(r, act_type="leaky"),
        "flatten": lambda: mx.sym.relu(mx.sym.Flatten(r)),
        "softmax": lambda: mx.sym.softmax(r),
        "concat": lambda: mx.sym.relu(mx.sym.concat(r, mx.sym.sigmoid(d), dim=1)),
        "elemwise_add": lambda: mx.sym.elemwise_add(r, mx.sym.sigmoid(d)),
        "broadcast_add": lambda: mx.sym.broadcast_add(r, mx.sym.sigmoid(d)),
        "clip": lambda: mx.sym.clip(r, 0, 6),
        "lrn": lambda: mx.sym.LRN(r, nsize=5),
        "split": lambda: mx.sym.elemwise_add(*mx.sym.split(r, num_outputs=2, axis=1)),
        "transpose": lambda: mx.sym.relu(mx.sym.transpose(r, axes=(0, 2, 3, 1))),
    }[op]()


@pytest.mark.parametrize("op", ["max_pool", "avg_pool", "dropout", "batchnorm", "leaky", "flatten", "softmax",
                                "concat", "elemwise_add", "broadcast_add", "clip", "lrn", "split", "transpose"])
def test_inplace_and_hidden_output_tables_match_mxnet(unfused, op):
    """One op after a 16 MB tensor: a wrong in-place or hidden-output entry is off by >= 4 MB."""
    sym = _probe(op)
    shapes = {"data": (1, 64, 256, 256)}
    nodes, entries = memory.infer_entries(sym.tojson(), shapes, {"data": "float32"})
    planned = memory.plan_activations(nodes, entries, json.loads(sym.tojson())["heads"])
    assert planned // MB == reported_mb(sym, shapes)


def test_shape_errors_are_model_errors():
    from pipeline.core.errors import ModelError

    bundle = load_model("squeezenet1.1")
    with pytest.raises(ModelError):
        memory.estimate(bundle, {"data": (1, 3)})


# -- property: random graphs of shape-preserving ops plan exactly as MXNet does ----------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_UNARY_OPS = {
    "relu": lambda x, i: mx.sym.relu(x, name=f"n{i}"),
    "sigmoid": lambda x, i: mx.sym.sigmoid(x, name=f"n{i}"),
    "clip": lambda x, i: mx.sym.clip(x, 0, 6, name=f"n{i}"),
    "dropout": lambda x, i: mx.sym.Dropout(x, p=0.5, name=f"n{i}"),
    "batchnorm": lambda x, i: mx.sym.BatchNorm(x, name=f"n{i}"),
    "leaky": lambda x, i: mx.sym.LeakyReLU(x, act_type="leaky", name=f"n{i}"),
    "conv": lambda x, i: mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=8, name=f"n{i}"),
    "maxpool": lambda x, i: mx.sym.Pooling(x, kernel=(3, 3), pad=(1, 1), pool_type="max", name=f"n{i}"),
    "softmax": lambda x, i: mx.sym.softmax(x, axis=1, name=f"n{i}"),
    "scalar": lambda x, i: mx.sym.relu(x * 2.0, name=f"n{i}"),
}
_BINARY_OPS = {
    "add": lambda a, b, i: mx.sym.elemwise_add(a, b, name=f"n{i}"),
    "bmul": lambda a, b, i: mx.sym.broadcast_mul(a, b, name=f"n{i}"),
    "concat": lambda a, b, i: mx.sym.Convolution(mx.sym.concat(a, b, dim=1), kernel=(1, 1), num_filter=8,
                                                 name=f"n{i}"),
}
_step = st.one_of(
    st.tuples(st.sampled_from(sorted(_UNARY_OPS)), st.integers(0, 1 << 16)),
    st.tuples(st.sampled_from(sorted(_BINARY_OPS)), st.integers(0, 1 << 16), st.integers(0, 1 << 16)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=12), extra_head=st.integers(0, 1 << 16))
def test_random_graphs_plan_like_mxnet(unfused, steps, extra_head):
    """Each op reads earlier tensors picked at random, so liveness and reuse vary widely."""
    made = [mx.sym.relu(mx.sym.var("data"), name="n0")]  # (1, 8, 128, 128): 512 KiB per tensor
    for i, step in enumerate(steps, start=1):
        if len(step) == 2:
            made.append(_UNARY_OPS[step[0]](made[step[1] % len(made)], i))
        else:
            made.append(_BINARY_OPS[step[0]](made[step[1] % len(made)], made[step[2] % len(made)], i))
    heads = [made[-1]] + ([made[extra_head % len(made)]] if extra_head % 3 == 0 else [])
    sym = mx.sym.Group(heads) if len(heads) > 1 else heads[0]
    shapes = {"data": (4, 8, 128, 128)}  # 2 MiB per tensor
    nodes, entries = memory.infer_entries(sym.tojson(), shapes, {"data": "float32"})
    planned = memory.plan_activations(nodes, entries, json.loads(sym.tojson())["heads"])
    assert planned // MB == reported_mb(sym, shapes)
