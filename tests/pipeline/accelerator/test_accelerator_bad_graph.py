"""The accelerator server validates a client's graph before MXNet binds it (no segfault)."""
from __future__ import annotations

import json

import mxnet as mx
import numpy as np
import pytest

from pipeline.accelerator.engines import MXNetEngine
from pipeline.accelerator.errors import BadRequest


def test_a_head_past_the_outputs_is_a_bad_request_not_a_crash():
    graph = json.loads(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc").tojson())
    graph["heads"][0][1] = 5  # MXNet loads this and segfaults at the first infer_shape
    params = {"fc_weight": np.ones((2, 3), "float32"), "fc_bias": np.zeros(2, "float32")}
    with pytest.raises(BadRequest) as info:
        MXNetEngine().prepare(json.dumps(graph), params, {"data": ((1, 3), "float32")})
    assert info.value.code == "ACC112" and "node 3 'fc'" in info.value.where
