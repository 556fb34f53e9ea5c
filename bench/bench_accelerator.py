"""Per-forward overhead of the accelerator over loopback against in-process MXNet.

For ResNet-50 (batch 1) and a tiny model, runs the same graph and params three ways in one
process, interleaved forward by forward (so drift in the machine hits every column alike):
  cpu     sym.bind(mx.cpu(), ...).forward(data=x); outputs[0].asnumpy()     in-process MXNet
  eia     sym.bind(mx.eia(), ...), the same calls                          the drop-in, embedded server
  engine  RemoteSubgraphEngine.forward(key, {"data": x})                   the raw client
in a random order per iteration, and reports medians, the median per-forward overhead and
the ratio to cpu (paired with the cpu run of the same iteration). The server is the
embedded child process on 127.0.0.1 (same machine: its compute competes for the same cores).

    PYTHONPATH=. python bench/bench_accelerator.py [--runs 60] [--tiny-runs 1000] [--no-write]

Writes the section "## Accelerator overhead (bench/bench_accelerator.py)" of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.benchlib import cpu_description, write_section  # noqa: E402
SECTION = "## Accelerator overhead (bench/bench_accelerator.py)"


def resnet50(mx):
    net = mx.gluon.model_zoo.vision.get_model("resnet50_v1")
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 224, 224)))
    sym = net(mx.sym.var("data"))
    params = {name: p.data() for name, p in net.collect_params().items()}
    args = {n: params[n] for n in sym.list_arguments() if n != "data"}
    aux = {n: params[n] for n in sym.list_auxiliary_states()}
    return sym, args, aux, (1, 3, 224, 224)


def tiny(mx):
    data = mx.sym.var("data")
    sym = mx.sym.relu(mx.sym.FullyConnected(data, num_hidden=16, name="fc"))
    rng = np.random.RandomState(0)
    args = {"fc_weight": mx.nd.array(rng.randn(16, 32)), "fc_bias": mx.nd.array(rng.randn(16))}
    return sym, args, {}, (1, 32)


def measure(mx, engine, name, model, runs, warmup=5):
    sym, args, aux, shape = model
    x = mx.nd.array(np.random.RandomState(1).rand(*shape).astype(np.float32))
    x_np = x.asnumpy()
    cpu = sym.bind(mx.cpu(), {**args, "data": mx.nd.zeros(shape)}, aux_states=aux, grad_req="null")
    eia = sym.bind(mx.eia(), {**args, "data": mx.nd.zeros(shape)}, aux_states=aux, grad_req="null")
    key = f"bench-{name}"
    engine.load(key, sym.tojson(), {**{f"arg:{k}": v for k, v in args.items()},
                                    **{f"aux:{k}": v for k, v in aux.items()}}, {"data": shape})

    def run_cpu():
        cpu.forward(data=x)
        return cpu.outputs[0].asnumpy()

    def run_eia():
        eia.forward(data=x)
        return eia.outputs[0].asnumpy()

    def run_engine():
        return engine.forward(key, {"data": x_np})[0]

    columns = {"cpu": run_cpu, "eia": run_eia, "engine": run_engine}
    reference = run_cpu()
    for fn in columns.values():
        np.testing.assert_allclose(fn(), reference, rtol=1e-4, atol=1e-5)
    times = {c: [] for c in columns}
    order = list(columns)
    shuffle = random.Random(0).shuffle
    for i in range(warmup + runs):
        shuffle(order)   # a fresh order each iteration: no column always follows another
        for column in order:
            started = time.perf_counter()
            columns[column]()
            if i >= warmup:
                times[column].append(time.perf_counter() - started)
    engine.unload(key)
    med = {c: statistics.median(t) * 1000 for c, t in times.items()}
    row = {"model": name, "runs": runs, **{f"{c}_ms": m for c, m in med.items()}}
    for column in ("eia", "engine"):   # paired with the cpu run of the same iteration
        pairs = list(zip(times[column], times["cpu"]))
        row[f"{column}_overhead_ms"] = statistics.median(a - b for a, b in pairs) * 1000
        row[f"{column}_ratio"] = statistics.median(a / b for a, b in pairs)
        quarter = max(1, len(pairs) // 4)   # the spread over four blocks of iterations shows the noise
        blocks = [statistics.median(a / b for a, b in pairs[k:k + quarter]) for k in range(0, len(pairs), quarter)]
        row[f"{column}_spread"] = f"{(min(blocks) - 1) * 100:+.1f}%..{(max(blocks) - 1) * 100:+.1f}%"
    return row


def render(rows, args) -> str:
    import mxnet as mx

    lines = [SECTION, "",
             f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu_description()} "
             f"({os.cpu_count()} cores), MXNet {mx.__version__}, Python {platform.python_version()}. "
             f"Command: `PYTHONPATH=. python bench/bench_accelerator.py --runs {args.runs} "
             f"--tiny-runs {args.tiny_runs}`.",
             "",
             "Per-forward wall time, median of N iterations running the three columns in a random order each; input on the host, output read back to numpy. "
             "`cpu`: in-process MXNet executor; `eia`: the `mx.eia()` drop-in (embedded server on 127.0.0.1, "
             "same machine); `engine`: `RemoteSubgraphEngine.forward` with numpy in and out. Overheads are "
             "medians of per-iteration differences and ratios against the cpu run of the same iteration; "
             "(quarters) is the range of that ratio over four consecutive blocks of the N iterations. "
             f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} for both processes (spinning OpenMP threads "
             "of one MXNet process would steal the cores of the other). Load average at start: "
             f"{args.load_average} (this 2-core machine is shared; treat small differences as noise).",
             "",
             "| model | N | cpu ms | eia ms | eia overhead (quarters) | engine ms | engine overhead (quarters) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['runs']} | {r['cpu_ms']:.3f} | {r['eia_ms']:.3f} | "
                     f"{r['eia_overhead_ms']:+.3f} ms ({(r['eia_ratio'] - 1) * 100:+.1f}%; {r['eia_spread']}) | "
                     f"{r['engine_ms']:.3f} | {r['engine_overhead_ms']:+.3f} ms ({(r['engine_ratio'] - 1) * 100:+.1f}%; "
                     f"{r['engine_spread']}) |")
    goal = next(r for r in rows if r["model"].startswith("resnet50"))
    verdict = "met" if goal["eia_ratio"] <= 1.03 else "NOT met"
    lines += ["", f"Goal (eia overhead <= 3% on ResNet-50 b1): {verdict} ({(goal['eia_ratio'] - 1) * 100:+.1f}%).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="ResNet-50 forwards per column")
    parser.add_argument("--tiny-runs", type=int, default=1000, help="tiny-model forwards per column")
    parser.add_argument("--no-write", action="store_true", help="print only; do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before MXNet starts its OpenMP threads
    args.load_average = " ".join(f"{v:.2f}" for v in os.getloadavg())

    import mxnet as mx

    import pipeline.eia  # noqa: F401  (makes mx.eia() exist)
    from pipeline.accelerator.client import RemoteSubgraphEngine

    mx.random.seed(0)
    engine = RemoteSubgraphEngine()
    rows = [measure(mx, engine, "resnet50_v1 b1", resnet50(mx), args.runs),
            measure(mx, engine, "tiny fc 32->16 b1", tiny(mx), args.tiny_runs)]
    text = render(rows, args)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section(SECTION, text.replace(SECTION, '', 1))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
