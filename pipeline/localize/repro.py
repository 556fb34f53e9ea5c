"""`--save-repro DIR`: the divergent node as a stand-alone subgraph per side, plus its inputs.

The subgraph is the finding's own computation, cut at its matched inputs: those tensors become
graph inputs `in0, in1, ...` (their values, taken from side A, are in `inputs.npz` with any
model input the cut still reads), and the finding's tensor is the only output. An ONNX side is
written as `a.onnx`/`b.onnx`; an MXNet side as a checkpoint (`a-symbol.json`, `a-0000.params`)
and, when our exporter can translate it, also as `a.onnx`. `repro.json` says which file runs on
which runtime and what difference was measured, so an upstream bug report needs nothing else;
`replay(DIR)` re-runs it (the test that the repro reproduces the finding). The ONNX cut itself is
`onnx_side.onnx_subgraph`, which confirmation runs too.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.core import atomic
from pipeline.localize import errors
from pipeline.localize.errors import LocalizeError
from pipeline.measure.compare import CompareResult, compare

REPRO_FILE = "repro.json"
INPUTS_FILE = "inputs.npz"


def save_repro(folder: Path, searcher, data: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pair = searcher.pairs[searcher.state.finding]
    boundary = [searcher.pairs[i] for i in pair.inputs]
    _, taps_a = searcher.a.run(searcher.feed, [p.a.id for p in boundary] + [pair.a.id])
    _, taps_b = searcher.b.run(searcher.feed, [pair.b.id])
    feed = {f"in{k}": taps_a[p.a.id] for k, p in enumerate(boundary)}
    sides = []
    for tag, side, out_id, cut in (("a", searcher.a, pair.a.id, {p.a.id: f"in{k}" for k, p in enumerate(boundary)}),
                                   ("b", searcher.b, pair.b.id, {p.b.id: f"in{k}" for k, p in enumerate(boundary)})):
        value = taps_a[out_id] if tag == "a" else taps_b[out_id]
        entry, reads = _write_side(folder, tag, side, out_id, cut, feed, value)
        feed.update({n: searcher.feed[n] for n in reads if n in searcher.feed})
        sides.append(entry)
    np.savez(folder / INPUTS_FILE, **feed)
    f = data["first_divergent"]
    atomic.write_json(folder / REPRO_FILE, {
        "node": f["node"], "op": f["op"], "other_node": f["other_node"], "other_op": f["other_op"],
        "tolerance": data["tolerance"], "inputs": INPUTS_FILE, "sides": sides,
        "measured": {k: f[k] for k in ("max_abs_err", "max_rel_err", "cosine")}})
    return folder


def _write_side(folder: Path, tag: str, side, out_id: str, cut: dict, feed: dict, value) -> tuple[dict, list[str]]:
    base = {"model": side.spec, "runtime": side.target, "output_shape": list(np.shape(value))}
    if side.kind == "onnx":
        from pipeline.localize.onnx_side import onnx_subgraph

        model, reads = onnx_subgraph(side.model, out_id, cut, feed, np.asarray(value).dtype)
        atomic.write_bytes(folder / f"{tag}.onnx", model.SerializeToString())
        return {**base, "format": "onnx", "file": f"{tag}.onnx"}, reads
    import mxnet as mx

    from pipeline.localize.mxnet_side import subgraph_symbol

    sym, params = subgraph_symbol(side, out_id, cut)
    atomic.write_text(folder / f"{tag}-symbol.json", sym.tojson())
    mx.nd.save(str(folder / f"{tag}-0000.params"),
               {(f"aux:{k}" if k in sym.list_auxiliary_states() else f"arg:{k}"): v for k, v in params.items()})
    reads = [n for n in sym.list_arguments() if n not in params and n not in cut.values()]
    entry = {**base, "format": "mxnet", "file": f"{tag}-symbol.json", "params": f"{tag}-0000.params"}
    onnx_file = _export_mxnet_subgraph(folder / f"{tag}.onnx", sym, params, cut, feed, side)
    if onnx_file:
        entry["onnx_file"] = onnx_file
    return entry, reads


def _export_mxnet_subgraph(dest: Path, sym, params, cut, feed, side) -> str | None:
    """The MXNet subgraph through our exporter too, when it translates (upstream reports want ONNX)."""
    from pipeline.core.errors import MxdeployError
    from pipeline.model.bundle import ModelBundle, TensorSpec
    from pipeline.onnx.export import export_bundle

    specs = [TensorSpec(n, tuple(feed[n].shape), str(feed[n].dtype)) for n in cut.values()]
    specs += [s for s in side.inputs if s.name in sym.list_arguments()]
    try:
        export_bundle(ModelBundle.from_symbol(sym, params, params, specs), dest)
    except MxdeployError:
        return None
    return dest.name


def replay(folder: Path) -> CompareResult:
    """Run both sides of a repro on its inputs and compare them at the recorded tolerance."""
    folder = Path(folder)
    meta = json.loads((folder / REPRO_FILE).read_text())
    with np.load(folder / meta["inputs"]) as npz:
        feed = {k: npz[k] for k in npz.files}
    values = [_run_side(folder, side, feed) for side in meta["sides"]]
    ref, got = values
    got = got.reshape(ref.shape) if got.shape != ref.shape and got.size == ref.size else got
    return compare([ref], [got], atol=meta["tolerance"]["atol"], rtol=meta["tolerance"]["rtol"], top_k=1)


def _run_side(folder: Path, side: dict, feed: dict) -> np.ndarray:
    if side["format"] == "onnx":
        from pipeline.localize.onnx_side import run_onnx_bytes
        from pipeline.onnx.load import read_onnx

        model = read_onnx(folder / side["file"])  # a repro folder is shared: its file is checked like any other
        names = {vi.name for vi in model.graph.input}
        return run_onnx_bytes(model.SerializeToString(), side["runtime"], {k: v for k, v in feed.items() if k in names},
                              [model.graph.output[0].name])[0]
    import mxnet as mx

    from pipeline.targets.cpu import unfused_binds

    sym = mx.sym.load(str(folder / side["file"]))
    loaded = mx.nd.load(str(folder / side["params"]))
    args = {k[4:]: v for k, v in loaded.items() if k.startswith("arg:")}
    aux = {k[4:]: v for k, v in loaded.items() if k.startswith("aux:")}
    args.update({k: mx.nd.array(v, dtype=v.dtype) for k, v in feed.items() if k in sym.list_arguments()})
    from pipeline.core.runtime_errors import runtime_call

    with runtime_call("mxnet", "a forward of the repro's subgraph", code=errors.RUNTIME_FAILED, error=LocalizeError,
                      where=str(folder / side["file"]), feed=feed), unfused_binds():
        exe = sym.bind(ctx=mx.cpu(), args=args, aux_states=aux, grad_req="null")
        exe.forward(is_train=False)
    return exe.outputs[0].asnumpy()
