"""Print the memory estimate next to MXNet's own planned total for every zoo model.

Usage: PYTHONPATH=. python bench/memory_vs_mxnet.py [BATCH ...]   (default: 1 32)
Columns: estimate (MB, exact), MXNet debug_str total (whole MB, fusion off), the same with
MXNet's oneDNN fusion on (a different graph, shown for comparison), and the estimate's distance
to MXNet's [N, N+1) MB interval relative to N.
"""
import os
import re
import sys

import mxnet as mx
from mxnet.gluon.model_zoo import vision

from pipeline.measure import memory
from pipeline.model.bundle import ModelBundle, TensorSpec
from pipeline.model.resolve import ZOO_NAMES


def reported(sym, shapes, backend):
    os.environ["MXNET_SUBGRAPH_BACKEND"] = backend
    exe = sym.simple_bind(mx.cpu(), grad_req="null", **shapes)
    return int(re.search(r"Total (\d+) MB allocated", exe.debug_str()).group(1))


def main(batches):
    print(f"{'model':18s} {'batch':>5s} {'estimate':>9s} {'mxnet':>6s} {'fused':>6s} {'rel':>6s}")
    worst = 0.0
    for name in ZOO_NAMES:
        side = 299 if name.startswith("inception") else 224
        sym = vision.get_model(name)(mx.sym.var("data"))
        for batch in batches:
            shapes = {"data": (batch, 3, side, side)}
            est = memory.estimate(ModelBundle(sym.tojson(), {}, {}, [TensorSpec("data", shapes["data"])]))
            mb = est.activation_bytes / (1 << 20)
            plain, fused = reported(sym, shapes, "NONE"), reported(sym, shapes, "MKLDNN")
            # MXNet prints whole MB (rounded down): the distance is to the interval [plain, plain + 1)
            rel = max(plain - mb, mb - (plain + 1), 0) / max(plain, 1)
            worst = max(worst, abs(rel))
            print(f"{name:18s} {batch:5d} {mb:9.2f} {plain:6d} {fused:6d} {rel:6.1%}", flush=True)
    print(f"worst relative difference: {worst:.1%}")


if __name__ == "__main__":
    main([int(b) for b in sys.argv[1:]] or [1, 32])
