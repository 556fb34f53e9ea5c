"""Our deployments against the tools a user would otherwise reach for, timed side by side in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_peers.py [--models a,b] [--rounds 12] [--no-bert] [--no-write]

Vision (resnet50_v1, densenet121, squeezenet1.1, mobilenetv2_1.0, and GluonCV's SSD and YOLOv3
MobileNet at 320x320; random weights, calibrated init, batch 1):
every model is exported once and, in the same process, timed in rotating rounds of blocks
(`benchlib.timed_blocks`: each session alone for a block of calls, the order rotating each round) as
- ONNX Runtime fp32, OpenVINO f32 and OpenVINO's default precision;
- OpenVINO + NNCF int8 made the way a user would, by bench/nncf_peer.py in NNCF's venv (none of our
  code): NNCF's documented flow (`ov.convert_model` on the ONNX file, then `nncf.quantize` with its
  defaults), and the same with the ONNX file read by `Core.read_model` (issue 19's first table);
- ours, each made by the quantize stage's quantizer and served by our target: onnxruntime int8,
  openvino int8 and openvino int8+bf16 (the same NNCF IR with bf16 for what stays in float),
  and the `pipeline tune` choice; the documented peer is timed compiled both ways (f32 and default);
and each int8 model's cosine against fp32 on held-out random rows. Both int8 models are
calibrated on the same 32 random rows.

BERT-base (12 layers, hidden 768, seq 128, batch 1): GluonNLP's bert_12_768_12 deployed through
`deploy: {target: onnxruntime}` (our export + attention fusion), against the same architecture
built with Hugging Face `transformers`, exported by `torch.onnx.export` and optimized by ONNX
Runtime's transformer optimizer. torch needs numpy 2, so the export runs in `.venv-peers`, which
this script creates if missing (torch==2.13.0, the CPU wheel on this machine, + transformers).

Measure on a quiet machine: the script prints the load average before and after. It writes the
"## Peers (bench/bench_peers.py)" section of BENCHMARKS.md with the CPU model and flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import cpu_description, load_average, paired_ratio, timed_blocks, write_section  # noqa: E402

HEADING = "## Peers (bench/bench_peers.py)"
MODELS = ("resnet50_v1", "densenet121", "squeezenet1.1", "mobilenetv2_1.0")
# GluonCV detection and segmentation (issue 19 asks int8 at NNCF's level there too); tune is
# run on the classifiers only (--tune-all for these too: a detector's tune takes minutes).
GLUONCV_MODELS = ("ssd_512_mobilenet1.0_voc", "yolo3_mobilenet1.0_voc", "fcn_resnet50_ade")
SHAPES = {"ssd_512_mobilenet1.0_voc": (1, 3, 320, 320), "yolo3_mobilenet1.0_voc": (1, 3, 320, 320),
          "fcn_resnet50_ade": (1, 3, 224, 224)}
CALIBRATION_ROWS, HOLDOUT_ROWS = 32, 32
PEERS_VENV = ROOT / ".venv-peers"
PEERS_REQUIREMENTS = ("torch==2.13.0", "transformers", "onnx==1.18.0")


def cosine(refs, gots) -> float:
    """Worst held-out row's cosine of the first output (a classifier's logits, a segmenter's map)."""
    worst = 1.0
    for r, g in zip(refs, gots):
        r, g = np.asarray(r[0], np.float64).ravel(), np.asarray(g[0], np.float64).ravel()
        worst = min(worst, float(r @ g / (np.linalg.norm(r) * np.linalg.norm(g) + 1e-300)))
    return worst


def accuracy(bundle, refs, gots) -> tuple[str, float]:
    """What the quantize guard judges the family by: matched detections for a detector, else cosine."""
    from pipeline.precision.guard import detection_agreement, guard_mode

    if guard_mode(bundle) == "detection":
        return "agr", detection_agreement(refs, gots)
    return "cos", cosine(refs, gots)


def streamed_accuracy(bundle, sessions: dict, holdout: list, reference) -> dict[str, tuple[str, float, float]]:
    """{session: (metric, worst row, mean over rows)}, one held-out row at a time: keeping every
    row's outputs of every session (a segmenter's 150x480x480 maps) was 70 GB. The worst row is
    what the guard judges; the mean says whether two models differ or one box flipped."""
    rows: dict[str, tuple[str, list[float]]] = {}
    for feed in holdout:
        ref = reference(bundle, feed)
        for name, run in sessions.items():
            metric, value = accuracy(bundle, [ref], [run(feed)])
            rows.setdefault(name, (metric, []))[1].append(value)
    return {name: (metric, min(values), float(np.mean(values))) for name, (metric, values) in rows.items()}


def _ov_session(path: Path, hint: str | None):
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY"}
    if hint:
        config["INFERENCE_PRECISION_HINT"] = hint
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()
    return lambda feed: [np.array(v, copy=True) for v in request.infer(feed).values()]


def _ort_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda feed: session.run(None, feed)


def vision_row(name: str, rounds: int, work: Path, with_tune: bool = True) -> dict:
    from pipeline.graph import run_bundle
    from pipeline.measure.inputs import random_feed
    from pipeline.model.bundle import TensorSpec
    from pipeline.model.resolve import load_model
    from pipeline.onnx.export import export_bundle
    from pipeline.precision.catalog import QUANTIZERS, QuantizeJob, key
    from pipeline.precision.calibration import CalibrationParams
    from pipeline.precision.nncf_int8 import nncf_python, stacked_rows
    from pipeline.precision.settings import QuantizeParams
    from pipeline.precision.tuning import TuneSettings, tune
    from pipeline.model import quantized as quantized_records
    from pipeline.model.bundle import sha256_file
    from pipeline.targets import TARGETS

    bundle = load_model(name, [TensorSpec("data", SHAPES.get(name, (1, 3, 224, 224)))])  # random weights, calibrated init
    feeds = [random_feed(bundle.inputs, seed=i) for i in range(CALIBRATION_ROWS + HOLDOUT_ROWS)]
    calibration, holdout = feeds[:CALIBRATION_ROWS], feeds[CALIBRATION_ROWS:]
    fp32_onnx = export_bundle(bundle, work / f"{name}.onnx")
    params = QuantizeParams(precision="int8", calibration=CalibrationParams(samples=CALIBRATION_ROWS))

    def quantized(precision: str, target: str):
        """The quantize stage's quantizer for (precision, target), served by our target (as deploy would)."""
        folder = work / f"{name}-{target}-{precision}"
        folder.mkdir(exist_ok=True)
        job = QuantizeJob(bundle, dataclasses.replace(params, precision=precision, target=target), calibration,
                          folder, work)
        made = QUANTIZERS.get(key(precision, target))(job)
        session = TARGETS.get(target)(**quantized_records.runtime_options(made.metadata, work)).deploy(made)
        ours_weights[target, precision] = next(folder.glob("*.bin"), None)
        made.save(folder / "bundle")
        return session.infer

    ours_weights: dict[tuple[str, str], Path | None] = {}

    peer_nncf, peer_read = work / f"{name}-peer-nncf.xml", work / f"{name}-peer-nncf-read.xml"
    np.savez(work / f"{name}-calibration.npz", **stacked_rows(calibration))
    for out, extra in ((peer_nncf, []), (peer_read, ["--read-model"])):
        subprocess.run([str(nncf_python()), str(ROOT / "bench" / "nncf_peer.py"), str(fp32_onnx),
                        str(work / f"{name}-calibration.npz"), str(out), *extra],
                       check=True, capture_output=True, env={**os.environ, "PYTHONPATH": ""})
    sessions = {"ORT fp32": _ort_session(fp32_onnx), "ORT int8 (ours)": quantized("int8", "onnxruntime"),
                "OV f32": _ov_session(fp32_onnx, "f32"), "OV default": _ov_session(fp32_onnx, None),
                "OV+NNCF int8, f32 hint (peer)": _ov_session(peer_nncf, "f32"),
                "OV+NNCF int8, default (peer)": _ov_session(peer_nncf, None),
                "OV+NNCF int8 via read_model, f32 hint": _ov_session(peer_read, "f32"),
                "ours openvino int8": quantized("int8", "openvino"),
                "ours openvino int8+bf16": quantized("int8+bf16", "openvino")}
    blocks = timed_blocks(sessions, holdout[0], rounds)
    p50 = {k: float(np.median(v)) for k, v in blocks.items()}
    ratios = {"int8 / NNCF f32": paired_ratio(blocks["ours openvino int8"], blocks["OV+NNCF int8, f32 hint (peer)"]),
              "int8+bf16 / NNCF default": paired_ratio(blocks["ours openvino int8+bf16"],
                                                       blocks["OV+NNCF int8, default (peer)"]),
              "int8 / NNCF via read_model f32": paired_ratio(blocks["ours openvino int8"],
                                                             blocks["OV+NNCF int8 via read_model, f32 hint"])}
    scores = streamed_accuracy(bundle, sessions, holdout, run_bundle)
    np.savez(work / f"{name}-feed.npz", **holdout[0])
    for label, precision, hint in (("int8 / NNCF f32", "int8", "f32"), ("int8+bf16 / NNCF default", "int8+bf16", None)):
        ratios[label + ", pair alone"] = _in_child(
            pair_ratio, str(work / f"{name}-openvino-{precision}" / "bundle"), str(work), str(peer_nncf), hint,
            str(work / f"{name}-feed.npz"), rounds, folder=work / f"pair-{name}-{precision}")
    choice = tune(bundle, settings=TuneSettings(samples=CALIBRATION_ROWS, holdout=64, runs=30)).choice \
        if with_tune else None
    tuned = "–" if not with_tune else "none passed" if choice is None else \
        f"{choice.target} {choice.precision} {choice.p50_ms:.2f} ms"
    same_ir = ours_weights.get(("openvino", "int8")) is not None and \
        sha256_file(ours_weights["openvino", "int8"]) == sha256_file(peer_nncf.with_suffix(".bin"))
    return {"model": name, "p50": p50, "ratios": ratios, "same_weights": same_ir, "accuracy": scores, "tune": tuned}


def pair_ratio(made_dir: str, work: str, peer_xml: str, hint: str | None, feed_file: str, rounds: int):
    """Ours / the NNCF peer, timed in a process that holds only these two compiled models.

    Beside seven other sessions (the main table) the same IR measured 1-6% apart either way with
    the order rotating, from where each session's buffers and threads landed; alone, two sessions
    meet the same conditions, so this pair is the like-for-like ratio."""
    from pipeline.model import quantized as quantized_records
    from pipeline.model.bundle import ModelBundle
    from pipeline.targets import TARGETS

    made = ModelBundle.load(made_dir)
    ours = TARGETS.get("openvino")(**quantized_records.runtime_options(made.metadata, Path(work))).deploy(made)
    with np.load(feed_file) as data:
        feed = {k: data[k] for k in data.files}
    blocks = timed_blocks({"ours": ours.infer, "peer": _ov_session(Path(peer_xml), hint)}, feed, rounds)
    return paired_ratio(blocks["ours"], blocks["peer"])


def peers_python() -> Path:
    python = PEERS_VENV / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEERS_REQUIREMENTS], check=True)
    return python


def bert_row(rounds: int, work: Path, layers: int = 12, seq: int = 128) -> dict:
    import collections

    import onnx
    import onnxruntime as ort
    from onnxruntime.transformers.optimizer import optimize_model

    from pipeline.measure.inputs import random_feed
    from pipeline.model.resolve import default_zoo_inputs, export_block, zoo_block
    from pipeline.targets import TARGETS

    kwargs = {"num_layers": layers, "hparam_allow_override": True}
    specs = [dataclasses.replace(s, shape=(1, seq) if len(s.shape) == 2 else (1,),
                                 range=(1, seq + 1) if len(s.shape) == 1 else s.range)
             for s in default_zoo_inputs("bert_12_768_12", kwargs)]
    bundle = export_block(zoo_block("bert_12_768_12", kwargs), specs, work)
    ours = TARGETS.get("onnxruntime")(api="symbol").deploy(bundle)
    feed = random_feed(bundle.inputs, seed=0)
    hf = work / "hf_bert.onnx"
    subprocess.run([str(peers_python()), str(ROOT / "bench" / "peers" / "hf_bert_export.py"), str(hf),
                    "--layers", str(layers), "--seq", str(seq)], check=True, env={**os.environ, "PYTHONPATH": ""})
    optimized = optimize_model(str(hf), model_type="bert", num_heads=12, hidden_size=768, opt_level=0)
    hf_fusions = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    hf_opt = work / "hf_bert_opt.onnx"
    onnx.save(optimized.model, str(hf_opt))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    hf_session = ort.InferenceSession(str(hf_opt), options, providers=["CPUExecutionProvider"])
    hf_feed = {"input_ids": feed["data0"].astype(np.int64), "attention_mask": np.ones((1, seq), np.int64),
               "token_type_ids": feed["data1"].astype(np.int64)}
    blocks = timed_blocks({"ours": lambda f: ours.infer(f), "hf": lambda f: hf_session.run(None, hf_feed)}, feed,
                          rounds, block=5)
    p50 = {k: float(np.median(v)) for k, v in blocks.items()}
    verified = verify_against_mxnet(bundle, ours, [random_feed(bundle.inputs, seed=s) for s in range(3)])
    ops = collections.Counter(n.op_type for n in onnx.load(str(hf_opt)).graph.node)
    ours.close()
    return {"p50": p50, "ratio": paired_ratio(blocks["ours"], blocks["hf"]), "ours_fusions": ours.deploy_metrics, "hf_fusions": hf_fusions, "hf_attention_ops": ops["Attention"],
            "verified": verified}


def verify_against_mxnet(bundle, session, feeds, atol: float = 1e-4, rtol: float = 1e-3) -> str:
    """Verify's elementwise rule, deployed (fused) model against MXNet's executor, on a few feeds."""
    from pipeline.graph import run_bundle

    worst = 0.0
    for feed in feeds:
        for ref, got in zip(run_bundle(bundle, feed), session.infer(feed)):
            excess = np.abs(np.asarray(got, np.float64) - ref) - (atol + rtol * np.abs(ref))
            worst = max(worst, float(excess.max()))
    verdict = "passed" if worst <= 0 else f"FAILED (worst excess over atol + rtol*|ref|: {worst:.3g})"
    return f"{verdict} against MXNet at atol {atol:g} / rtol {rtol:g} on {len(feeds)} random feeds"


def _ratio(value) -> str:
    if isinstance(value, str):  # why its child failed
        return f"failed: {value}"
    middle, low, high = value
    return f"{middle:.2f}x [{low:.2f}, {high:.2f}]"


def _score(score) -> str:
    """A cell's accuracy: the worst row, and for a detector also the mean (its worst image turns on
    single boxes near the threshold)."""
    metric, worst, mean = score
    return f"{metric} {worst:.4f}" + (f", mean {mean:.4f}" if metric == "agr" else "")


def section(rows, bert, rounds, loads, argv) -> str:
    measured = [r for r in rows if "failed" not in r]
    cols = list(measured[0]["p50"]) if measured else []
    lines = [f"CPU: {cpu_description()}. 1-minute load average before/after: {loads[0]} / {loads[1]}.",
             f"Command: `python bench/bench_peers.py {' '.join(argv)}`; {rounds} rounds; a cell is "
             "the median of its rounds' block medians (10 calls each, after 2 warm-up calls; each session alone, "
             "the order rotating each round); a ratio is the median of the per-round ratios, with its 95% bootstrap "
             "interval in brackets. Batch 1, "
             f"random weights (calibrated init); int8 calibrated on the same {CALIBRATION_ROWS} random rows; accuracy against "
             f"fp32 on MXNet over {HOLDOUT_ROWS} held-out rows, as the quantize guard judges the family: cos = worst "
             "cosine of the first output, agr = worst image's fraction of matched detections (detectors), and its "
             "mean over the rows.", "",
             "Peers made as a user would (bench/nncf_peer.py, none of our code): NNCF's documented flow "
             "(`ov.convert_model`, then `nncf.quantize` with its defaults), compiled with f32 for the ops NNCF leaves "
             "in float and with OpenVINO's default (bf16 on this CPU); and the same quantize on the ONNX file read by "
             "`Core.read_model`, f32. Ours through our openvino target: int8 (f32 float part) and int8+bf16 (bf16 "
             "float part); each is compared with the documented peer compiled the same way. Ours folds BatchNorm "
             "into the convolutions itself (in float64) before NNCF, so its int8 weights match the peer's byte for "
             "byte only on a model without BatchNorm.", "",
             "Ratios: `alone` times the two models in a child process that holds only them; `beside` is the "
             "same pair in the main run, next to the other sessions of the row.", "",
             "| model | " + " | ".join(cols) + " | int8 / NNCF f32: alone, beside | int8+bf16 / NNCF default: alone, "
             "beside | int8 / NNCF via read_model, beside | same weights as NNCF's | tune's choice |",
             "|---|" + "---|" * (len(cols) + 5)]
    for r in (r for r in rows if "failed" not in r):
        p50 = r["p50"]
        plain, mixed = (f"{_ratio(r['ratios'][k + ', pair alone'])}, {_ratio(r['ratios'][k])}"
                         for k in ("int8 / NNCF f32", "int8+bf16 / NNCF default"))
        lines.append(f"| {r['model']} | " + " | ".join(f"{p50[c]:.2f} ({_score(r['accuracy'][c])})" for c in cols)
                     + f" | {plain} | {mixed} | {_ratio(r['ratios']['int8 / NNCF via read_model f32'])}"
                     + f" | {'yes' if r['same_weights'] else 'no'} | {r['tune']} |")
    lines += [f"Not measured: {r['model']}: {r['failed']}" for r in rows if "failed" in r]
    if bert:
        ratio = _ratio(bert["ratio"])
        lines += ["", "BERT-base, seq 128, batch 1, ONNX Runtime:", "",
                  "| ours (GluonNLP, deploy onnxruntime) | Hugging Face + torch.onnx + ORT optimizer | ours / HF |",
                  "|---|---|---|", f"| {bert['p50']['ours']:.2f} ms | {bert['p50']['hf']:.2f} ms | {ratio} |", "",
                  f"Fusions, ours: {json.dumps(bert['ours_fusions'])}; Hugging Face: {json.dumps(bert['hf_fusions'])}.",
                  f"Ours verified: {bert['verified']}."]
    return "\n".join(lines)


def _in_child(func, *args, folder: Path):
    """`func(*args)` in a child process: its value, or the first line of why the child failed.

    One model per child: sessions, compiled models and tune's candidates of seven models outgrew
    the 24 GiB of this machine in one process (OOM-killed at the fifth); an ours/NNCF pair gets a
    child of its own too (`pair_ratio`)."""
    from pipeline.run.child import call_in_child

    outcome = call_in_child(f"bench.bench_peers:{func.__name__}", *args, folder=folder)
    return outcome.value if outcome.status == "ok" else f"{outcome.reason}".splitlines()[0][:300]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS + GLUONCV_MODELS))
    parser.add_argument("--tune-all", action="store_true", help="run pipeline tune on the GluonCV models too")
    parser.add_argument("--rounds", type=int, default=12,
                        help="rounds of timed blocks (10 calls per session each; 5 for BERT)")
    parser.add_argument("--no-bert", action="store_true")
    parser.add_argument("--bert-layers", type=int, default=12)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    loads = [load_average()]
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        rows = []
        for name in [m for m in args.models.split(",") if m]:
            print(f"{name} ...", file=sys.stderr, flush=True)
            row = _in_child(vision_row, name, args.rounds, Path(tmp), args.tune_all or name in MODELS,
                            folder=Path(tmp) / f"child-{name}")
            rows.append(row if isinstance(row, dict) else {"model": name, "failed": row})
        bert = None if args.no_bert else bert_row(args.rounds, Path(tmp), layers=args.bert_layers)
    loads.append(load_average())
    text = section(rows, bert, args.rounds, loads, argv)
    print(text)
    if not args.no_write:
        write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
