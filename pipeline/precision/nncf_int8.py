"""int8 for openvino through OpenVINO's own post-training quantizer, NNCF, in its own venv.

Why NNCF and not only our ONNX Runtime QDQ file: measured on resnet50_v1, densenet121 and
squeezenet1.1, the model NNCF quantizes compiles to a faster OpenVINO int8 model than ORT's
QDQ placement (issue 19's table: 1.11x-1.38x), because NNCF places quantizers where
OpenVINO's CPU plugin fuses them (residual Add inputs, Concat inputs, per-channel symmetric
weights) and corrects the bias shift (fast bias correction). Writing that placement again
would be a copy of NNCF; calling it keeps it right as OpenVINO changes.

NNCF 3.x needs numpy 2 and MXNet 1.9.1 needs numpy < 1.24, so NNCF runs in `.venv-nncf`
(`./dev setup` makes it from requirements-nncf.txt; MXDEPLOY_NNCF_PYTHON names another
interpreter) as a child process on the exported ONNX file (pipeline/precision/nncf_child.py).
What it returns is an OpenVINO IR (format `openvino-ir`, served by the openvino target) and,
like every quantized model, it is guarded against fp32 before anything serves it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from pipeline.core import atomic
from pipeline.core.errors import StageError
from pipeline.model import quantized
from pipeline.model.bundle import ModelBundle, sha256_file
from pipeline.onnx.export import export_bundle
from pipeline.precision.quantizers import QuantizeJob, record, register, require_bf16

ENV_VAR = "MXDEPLOY_NNCF_PYTHON"
CHILD = Path(__file__).with_name("nncf_child.py")
IR_FILE = "model-int8.xml"
LOG_FILE = "nncf.log"
TIMEOUT_S = 1800


def nncf_python() -> Path | None:
    """The interpreter of NNCF's venv: $MXDEPLOY_NNCF_PYTHON, else .venv-nncf beside the repo."""
    named = os.environ.get(ENV_VAR)
    if named:
        return Path(named) if Path(named).is_file() else None
    here = Path(__file__).resolve().parents[2] / ".venv-nncf" / "bin" / "python"
    return here if here.is_file() else None


def is_available() -> bool:
    return nncf_python() is not None


def stacked_rows(calibration: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One array per input, rows along a new leading axis (what nncf_child.py and the bench's
    nncf_peer.py read)."""
    return {name: np.stack([feed[name] for feed in calibration]) for name in calibration[0]}


def run_nncf(onnx_path: Path, calibration: list[dict[str, np.ndarray]], out_xml: Path, log_path: Path, *,
             ignore: list[str] = (), transformer: bool = False) -> dict:
    """NNCF's quantize() on `onnx_path` in the side venv; the IR lands at `out_xml` (+ .bin).
    `ignore` are ONNX node names NNCF leaves in float."""
    python = nncf_python()
    if python is None:
        raise StageError("NNCF's environment is not installed", code="QNT112", where=ENV_VAR,
                         hint="run ./dev setup (it creates .venv-nncf), or set MXDEPLOY_NNCF_PYTHON")
    with tempfile.TemporaryDirectory(prefix="mxdeploy-nncf-") as tmp:
        rows = Path(tmp) / "calibration.npz"
        np.savez(rows, **stacked_rows(calibration))
        cmd = [str(python), str(CHILD), str(onnx_path), str(rows), str(out_xml)]
        cmd += [arg for name in ignore for arg in ("--ignore", name)]
        if transformer:
            cmd.append("--transformer")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  env={**os.environ, "PYTHONPATH": ""})
        except subprocess.TimeoutExpired:
            raise StageError(f"NNCF did not finish within {TIMEOUT_S} s", code="QNT113", where=str(onnx_path),
                             hint="quantize with fewer calibration samples, or use the onnxruntime quantizer") from None
    atomic.write_text(log_path, proc.stderr)
    last = (proc.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        result = {"ok": False, "error": f"exit code {proc.returncode}, no result line"}
    if proc.returncode != 0 or not result.get("ok"):
        raise StageError(f"NNCF refused the model: {result.get('error', 'unknown error')}", code="QNT113",
                         where=str(onnx_path), hint=f"its full output is in {log_path.name}; use the onnxruntime "
                                                     "quantizer (quantizer: onnxruntime) for this model")
    return result


def batchnorm_folded(bundle: ModelBundle, keep: frozenset[str] = frozenset()) -> ModelBundle:
    """The bundle with its BatchNorms folded into their producers (exactly: pipeline/graph/passes),
    except the `keep` ones.

    OpenVINO's converter would fold them too, but into an op it renames (`Multiply_6905`) and whose
    bias Add keeps the only name left, so NNCF's ignored scope could not find an excluded
    convolution, and OpenVINO's messages and per-layer profile would name none. Folded here,
    each convolution keeps its MXNet name.
    """
    from pipeline.graph.bundle_io import bundle_from_graph, graph_of
    from pipeline.graph.passes.fold_batchnorm import fold_batchnorms

    graph, params = graph_of(bundle)
    folded, store = fold_batchnorms(graph, params, bundle.inputs, keep=keep)
    return bundle_from_graph(bundle, folded, store, stage="quantize", details={"pass": "fold_batchnorm"})


def quantize_with_nncf(bundle: ModelBundle, calibration: list[dict[str, np.ndarray]], stage_dir: Path,
                       run_dir: Path, *, exclude_nodes: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """Export, quantize in the side venv, publish model-int8.xml/.bin in `stage_dir` atomically.

    `exclude_nodes` are MXNet node names, kept in float (NNCF's ignored scope, matched to the ONNX
    nodes the exporter made of them). Returns the IR path and the record fields (paths relative
    to `run_dir`, both sha256s).
    """
    import onnx

    from pipeline.onnx.node_names import name_nodes
    from pipeline.precision.onnx_int8 import excluded_onnx_nodes

    stage_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mxdeploy-nncf-out-") as tmp:
        exported = export_bundle(batchnorm_folded(bundle, keep=frozenset(exclude_nodes)), Path(tmp) / "model.onnx")
        model = onnx.load(str(exported))
        name_nodes(model)  # OpenVINO takes ONNX node names as friendly names, which the ignored scope matches
        ignore = excluded_onnx_nodes(model, tuple(exclude_nodes))
        onnx.save(model, str(exported))
        staged = Path(tmp) / IR_FILE
        result = run_nncf(exported, calibration, staged, stage_dir / LOG_FILE, ignore=ignore,
                          transformer=bundle.metadata.get("source", {}).get("family") == "nlp")
        xml, binary = stage_dir / IR_FILE, stage_dir / Path(IR_FILE).with_suffix(".bin").name
        for src, dst in ((staged.with_suffix(".bin"), binary), (staged, xml)):  # the .xml last: it names the .bin
            with atomic.atomic_path(dst) as tmp_dst:
                shutil.copyfile(src, tmp_dst)
    fields = {"path": os.path.relpath(xml, run_dir), "sha256": sha256_file(xml),
              "companions": {binary.name: sha256_file(binary)}, "nncf": result.get("nncf"),
              "quantizer": "nncf"}
    return xml, fields


@register("int8", "openvino", format="openvino-ir", methods=("minmax",), label="NNCF")
def quantize_openvino_nncf(job: QuantizeJob) -> ModelBundle:
    """The openvino int8 quantizer: NNCF's placement and fast bias correction, served as an IR."""
    return _nncf_bundle(job)


@register("int8+bf16", "openvino", format="openvino-ir", methods=("minmax",), label="NNCF + OpenVINO's bf16 hint")
def quantize_openvino_nncf_bf16(job: QuantizeJob) -> ModelBundle:
    """The same IR, compiled with bf16 for the ops NNCF left in float (first/last layers, softmax,
    ignored nodes): on a CPU with native bf16 those are the int8 model's slowest part."""
    require_bf16()
    return _nncf_bundle(job, float_precision="bf16")


def _nncf_bundle(job: QuantizeJob, **record_fields) -> ModelBundle:
    _, fields = quantize_with_nncf(job.bundle, job.calibration, job.stage_dir, job.run_dir,
                                   exclude_nodes=tuple(job.params.exclude_nodes))
    meta = {**job.bundle.metadata, quantized.KEY: record(job, "openvino-ir", **fields, **record_fields)}
    return job.bundle.evolve(stage="quantize", details={"precision": job.params.precision, "format": "openvino-ir"},
                             metadata=meta)


__all__ = ["ENV_VAR", "is_available", "nncf_python", "stacked_rows", "quantize_openvino_nncf", "quantize_openvino_nncf_bf16", "quantize_with_nncf", "run_nncf"]
