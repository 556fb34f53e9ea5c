"""`verify`: feed the same inputs to the reference and the deployed model; compare and time.

The reference is rebuilt from `metadata["reference"]` (the source's own runtime: imperative
Gluon, or the original checkpoint on MXNet's executor), so every transform between source and
deploy is covered by one comparison. The pass rule is numpy's allclose rule per element
(see pipeline.measure.compare); cosine and top-k agreement are reported to explain a failure.
Latency is measured on the deployed session only, after warm-up forwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Optional

import numpy as np

from pipeline.core import atomic
from pipeline.model.bundle import ModelBundle
from pipeline.measure.compare import CompareResult
from pipeline.measure import modes
from pipeline.core.diagnostics import Diagnostic, has_errors
from pipeline.core.errors import StageError
from pipeline.core.runtime_errors import runtime_call
from pipeline.measure.inputs import make_feed, random_feed
from pipeline.measure.latency import latency_ms
from pipeline.core.paramspec import ParamIssue, param
from pipeline.localize.deployment import LOCALIZE_FILE, localize_deployment
from pipeline.localize.pre_nms import pre_nms_deployment
from pipeline.model.references import REFERENCES
from pipeline.core.stage import RunContext, Stage, StageResult, register_stage
from pipeline.targets.build import deployed_target
from pipeline.measure.accuracy import (accuracy_drop_diagnostic, accuracy_metrics, first_batch, load_dataset,
                                      predictions)

VERIFY_FILE = "verify.json"


@dataclass(frozen=True)
class VerifyParams:
    input: Literal["random", "image", "dataset"] = param(
        "random", "random: seeded normal inputs; image: the image file, preprocessed as the Elastic Inference guide "
                  "did; dataset: the first rows of `dataset` (in-distribution inputs, e.g. for int8)")
    seed: int = param(0, "seed of the random inputs")
    image: Optional[str] = param(None, "image file for input: image (JPEG or PNG)", path="file")
    labels: Optional[str] = param(None, "class names, one per line (synset.txt): adds top_k_classes", path="file")
    atol: float = param(1e-4, "absolute tolerance: |got - ref| <= atol + rtol * |ref|")
    rtol: float = param(1e-3, "relative tolerance")
    top_k: int = param(5, "k of the top-k agreement and of top_k_classes")
    runs: int = param(20, "timed forwards for the latency percentiles")
    warmup: int = param(3, "untimed forwards before timing")
    dataset: Optional[str] = param(None, ".npz, one array per input (rows on its batch_axis); with 'label' it "
                                         "adds accuracy and reference_accuracy on it", path="file")
    max_accuracy_drop: Optional[float] = param(None, "fail (VER107) when the deployed accuracy is lower than the "
                                                     "reference's by more than this (0.01: one point)")
    # YAML 1.1 reads an unquoted `off` as false: both spellings mean off.
    localize: Literal["auto", "off", False] = param(
        "auto", "auto: when the outputs differ, name the first divergent node (VER101's node, localize.json; "
                "docs/localize.md); off: never")
    compare: Optional[Literal["elementwise", "detection", "segmentation"]] = param(
        None, "how outputs are compared (default: from the model's family; docs/gluoncv.md): detection matches "
              "(class, score, box) sets, segmentation adds per-pixel class agreement")
    score_tol: float = param(modes.OPTION_DEFAULTS["score_tol"], "detection: max |score diff| of matched boxes")
    iou_min: float = param(modes.OPTION_DEFAULTS["iou_min"], "detection: min IoU of matched boxes")
    score_threshold: float = param(modes.OPTION_DEFAULTS["score_threshold"], "detection: boxes below are not compared")
    min_pixel_agreement: float = param(modes.OPTION_DEFAULTS["min_pixel_agreement"],
                                       "segmentation: min fraction of pixels with the same argmax class")
    pre_nms: bool = param(True, "detection: also compare the tensors that feed NMS elementwise, on taps of both "
                                "models (metrics.pre_nms; VER109 when they differ)")


@register_stage
class Verify(Stage):
    host_dependent = True  # its latency and throughput are measured on this CPU
    name = "verify"
    summary = "compare the deployed outputs with the source's reference; measure latency"
    Params = VerifyParams
    summary_metrics = MappingProxyType({"max_abs_err": ("metrics.max_abs_err",),
                                        "p50_ms": ("metrics.latency_ms.p50",)})

    @classmethod
    def check_params(cls, params: VerifyParams) -> list[ParamIssue]:
        issues = []
        if params.input == "image" and not params.image:
            issues.append(ParamIssue(("image",), "input: image needs an image file"))
        if params.input == "dataset" and not params.dataset:
            issues.append(ParamIssue(("dataset",), "input: dataset needs a dataset file"))
        if params.max_accuracy_drop is not None and not params.dataset:
            issues.append(ParamIssue(("max_accuracy_drop",), "max_accuracy_drop needs a dataset"))
        for name, low in (("atol", 0), ("rtol", 0), ("warmup", 0), ("top_k", 1), ("runs", 1)):
            if getattr(params, name) < low:
                issues.append(ParamIssue((name,), f"expected {name} >= {low}, got {getattr(params, name)}"))
        return issues

    def run(self, bundle: ModelBundle | None, params: VerifyParams, ctx: RunContext):
        if bundle is None:
            raise StageError("verify needs a model", code="VER102", hint="put a source and a deploy before verify")
        reference_spec = bundle.metadata.get("reference")
        if not reference_spec:
            raise StageError("the bundle names no reference to compare against", code="VER103",
                             hint="start the pipeline with a gluon, checkpoint or onnx source")
        session, owned = ctx.session, False
        if session is None:  # deploy came from the cache: open the same deployment again
            target = deployed_target(bundle.metadata, ctx.run_dir)
            if target is None:
                raise StageError("nothing is deployed to verify", code="VER102",
                                 hint="put a deploy stage before verify")
            session, owned = target.deploy(bundle), True
        try:
            dataset = load_dataset(ctx.resolve(params.dataset), bundle.inputs,
                                   need_labels=params.max_accuracy_drop is not None) if params.dataset else None
            feed = first_batch(dataset, bundle.inputs) if params.input == "dataset" else \
                make_feed(bundle.inputs, params.input, seed=params.seed,
                          image=ctx.resolve(params.image) if params.image else None)
            reference = REFERENCES.get(reference_spec["kind"])(reference_spec, ctx.run_dir)
            reference = _GuardedReference(reference, reference_spec["kind"])
            expected = reference.run(feed)
            got = session.infer(feed)
            latency = latency_ms(session, feed, runs=params.runs, warmup=params.warmup)
            accuracy = _dataset_accuracy(reference, session, bundle, dataset) if dataset and \
                dataset.labels is not None else None
            second = _second_size(bundle, reference, session, params)
        finally:
            if owned:
                session.close()
        pre_nms, candidates = _pre_nms(bundle, feed, params, ctx) if _mode(params, bundle) == "detection" and \
            params.pre_nms else (None, None)
        mode, result = _compare(expected, got, params, bundle, candidates)
        batch = bundle.inputs[0].batch if bundle.inputs else 1
        metrics = {**result.metrics(), "compare": mode, "latency_ms": latency,
                   "throughput_per_s": round(batch / (latency["p50"] / 1e3), 2) if latency["p50"] > 0 else None}
        diagnostics = []
        if params.labels:
            classes, diagnostics = top_k_classes(got[0], ctx.resolve(params.labels), params.top_k)
            metrics["top_k_classes"] = classes
        undecidable = not result.passed and _decided_by_ties(expected, pre_nms, params, mode)
        if undecidable:
            diagnostics.append(undecidable)
        elif not result.passed:
            located = _localize(bundle, feed, params, ctx)
            diagnostics.append(_mismatch(result, params, bundle, located=located))
            if located is not None and located.get("first_divergent"):
                metrics["first_divergent"] = {k: located["first_divergent"][k]
                                              for k in ("node", "op", "other_node", "max_abs_err", "cosine")}
        if second is not None:
            shapes, second_result = second
            metrics["second_size"] = {"shapes": shapes, **second_result.metrics()}
            if not second_result.passed:
                diagnostics.append(_mismatch(second_result, params, bundle, at=shapes))
        if pre_nms is not None:
            metrics["pre_nms"] = pre_nms
            diagnostics += _pre_nms_diagnostics(pre_nms, params)
        diagnostics += _weak_evidence(expected, params, mode)
        if accuracy is not None:
            metrics.update(accuracy)
            drop = None if params.max_accuracy_drop is None else \
                accuracy_drop_diagnostic(accuracy, params.max_accuracy_drop)
            diagnostics += [drop] if drop else []
        status = "passed" if not has_errors(diagnostics) else "failed"
        atomic.write_json(ctx.stage_dir / VERIFY_FILE, {
            "status": status, "reason": result.reason, "reference": reference_spec.get("kind"),
            "deployment": bundle.metadata.get("deployment"), "input": params.input,
            "tolerance": {"atol": params.atol, "rtol": params.rtol}, "mismatches": result.mismatches,
            "metrics": metrics})
        artifacts = {"verify": VERIFY_FILE}
        if (ctx.stage_dir / LOCALIZE_FILE).is_file():
            artifacts["localize"] = LOCALIZE_FILE
        return None, StageResult(status=status, metrics=metrics, diagnostics=diagnostics, artifacts=artifacts)


def _localize(bundle: ModelBundle, feed, params: VerifyParams, ctx: RunContext) -> dict | None:
    """The first divergent node (localize: auto), written to localize.json beside verify.json."""
    if params.localize in ("off", False):
        return None
    located = localize_deployment(bundle, feed, run_dir=ctx.run_dir, atol=params.atol, rtol=params.rtol)
    ctx.stage_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_json(ctx.stage_dir / LOCALIZE_FILE, located)
    return located


def _pre_nms(bundle: ModelBundle, feed, params: VerifyParams, ctx: RunContext) -> tuple[dict, tuple | None]:
    """The NMS inputs of reference and deployed model, elementwise (pipeline/localize/pre_nms.py),
    and the final NMS's candidate rows on each side (for ties NMS broke two ways)."""
    return pre_nms_deployment(bundle, feed, run_dir=ctx.run_dir, atol=params.atol, rtol=params.rtol)


def _pre_nms_diagnostics(record: dict, params: VerifyParams) -> list[Diagnostic]:
    """VER109 when a deciding NMS input differs, VER122 when they could not be compared."""
    tensors = record["tensors"]
    failed = [t for t in tensors if t["status"] == "failed" and t["decides"]]
    if failed:
        t = failed[0]
        return [Diagnostic(
            "VER109", "error", f"the tensor {t['tensor']} that feeds NMS ({t['nms']}) differs from the reference's "
            f"although NMS may hide it: max abs error {t['max_abs_err']:.4g}, {t['mismatches']} element(s) outside "
            f"atol {params.atol:g} + rtol {params.rtol:g}*|ref|", node=t["tensor"],
            hint=f"pipeline compare the model on cpu and on the target with --localize to find the node before "
                 f"{t['tensor']} that drifts")]
    unmatched = [t["tensor"] for t in tensors if t["status"] == "unmatched"]
    if record["status"] == "skipped" or unmatched:
        why = record.get("reason") or f"no deployed tensor carries {', '.join(unmatched)}"
        return [Diagnostic("VER122", "warning", f"the tensors that feed NMS were not compared: {why}",
                                   node=unmatched[0] if unmatched else "",
                                   hint="only the detections after NMS were compared; NMS can hide drift there")]
    return []


def _second_size(bundle: ModelBundle, reference, session, params: VerifyParams):
    """With `dynamic` axes, the same comparison at the second size (TensorSpec.resized: batch + 1,
    sequence x 2) on a random feed: a model exported with symbolic axes must hold at both."""
    if not any(spec.dynamic for spec in bundle.inputs):
        return None
    specs = [spec.resized() for spec in bundle.inputs]
    feed = random_feed(specs, params.seed, batch_index=1)
    return {s.name: list(s.shape) for s in specs}, _compare(reference.run(feed), session.infer(feed), params, bundle)[1]


def _mode(params: VerifyParams, bundle: ModelBundle) -> str:
    """The compare mode asked for (default: the model family's; pipeline/measure/modes.py)."""
    return params.compare or modes.default_mode(bundle.metadata.get("source", {}).get("family"))


def _compare(expected, got, params: VerifyParams, bundle: ModelBundle,
             candidates: tuple | None = None) -> tuple[str, CompareResult]:
    """The compare mode and its result; `candidates`: the final NMS's input rows (detection)."""
    mode = _mode(params, bundle)
    options = {k: getattr(params, k) for k in modes.OPTION_DEFAULTS}
    return mode, modes.MODES.get(mode)(expected, got, atol=params.atol, rtol=params.rtol, top_k=params.top_k,
                                       options={**options, "nms_candidates": candidates})


class _GuardedReference:
    """A reference whose run goes through the runtime wrapper: its refusal is VER108, its crash
    names the feed (pipeline/core/runtime_errors.py)."""

    def __init__(self, reference, kind: str):
        self.reference, self.kind = reference, kind

    def run(self, feed):
        with runtime_call(self.reference.runtime, f"the {self.kind} reference run", code="VER108", error=StageError,
                          feed=feed, hint="the reference itself cannot run this feed: check the declared inputs "
                                          "(dtype, range, integer) against what the model accepts"):
            return self.reference.run(feed)


def _dataset_accuracy(reference, session, bundle: ModelBundle, dataset) -> dict:
    batch = bundle.inputs[0].batch
    return accuracy_metrics(predictions(reference.run, dataset, batch), predictions(session.infer, dataset, batch),
                            dataset.labels)


def _mismatch(result: CompareResult, params: VerifyParams, bundle: ModelBundle, at: dict | None = None,
              located: dict | None = None) -> Diagnostic:
    """VER101: the deployed outputs are not the reference's, with the measured error (and the
    shapes, at the second size of a dynamic input), and the first divergent node when
    localization found one (its `node` field then names it)."""
    outputs = bundle.outputs
    node = outputs[result.worst_output] if 0 <= result.worst_output < len(outputs) else ""
    message = (f"{'at the second size ' + str(at) + ', ' if at else ''}deployed outputs differ from the reference: max abs error {result.max_abs_err:.4g}, "
               f"max rel error {result.max_rel_err:.4g} (atol {params.atol:g}, rtol {params.rtol:g}); "
               f"{result.reason}")
    finding = (located or {}).get("first_divergent")
    if finding:
        node = finding["node"]
        err = finding["max_abs_err"]
        what = "most noise added" if located.get("mode") == "sqnr" else "first divergent node"
        message += (f"; {what}: {finding['node']} ({finding['op']}), deployed as {finding['other_node']} "
                    f"({finding['other_op']}), max abs error {'n/a' if err is None else format(err, '.4g')} "
                    f"(localize.json)")
    return Diagnostic("VER101", "error", message, node=node,
                      hint="find the stage that introduced the error by verifying after each transform; "
                           "loosen atol/rtol only for a deliberate precision change (int8, bf16)")


def _decided_by_ties(expected: list, pre_nms: dict | None, params: VerifyParams, mode: str) -> Diagnostic | None:
    """VER123 instead of VER101 when a detector's reference is decided by tie-breaking: more than
    TIE_DOMINATED of its kept detections tie and every NMS input that decides agrees elementwise
    (pre_nms). Which of equal scores NMS keeps then cascades through greedy suppression (Faster
    R-CNN FPN with random weights: 18,079 of 24,208 kept scores tied; MXNet's own executor against imperative
    Gluon matched 88%), so no comparison of the outputs can judge the deployment: a refusal, not a pass."""
    if mode != "detection" or pre_nms is None or pre_nms.get("status") != "compared":
        return None
    deciding = [t for t in pre_nms.get("tensors", []) if t.get("decides")]
    if not deciding or any(t.get("status") != "passed" for t in deciding):
        return None
    ties, kept = modes.tied_selections(expected, params.top_k, mode), modes.kept_detections(expected)
    if not kept or ties / kept <= modes.TIE_DOMINATED:
        return None
    return Diagnostic("VER123", "error",
                      f"the reference's detections are decided by tie-breaking, not arithmetic: {ties} of its {kept} "
                      f"kept scores tie ({ties / kept:.0%}) while the tensors feeding NMS agree elementwise "
                      f"({', '.join(t['tensor'] for t in deciding)}); which tied box NMS keeps cascades, so the outputs "
                      "cannot judge this deployment",
                      hint="verify with trained weights (params:) or an input whose scores are spread; the pre-NMS "
                           "comparison (metrics.pre_nms) is the evidence there is")


def _weak_evidence(expected: list, params: VerifyParams, mode: str) -> list[Diagnostic]:
    """VER120 (a pass decided by atol alone) and VER121 (top-k / NMS choosing among tied scores)."""
    out = []
    vacuous = modes.vacuous_outputs(expected, params.atol)
    if vacuous:
        out.append(Diagnostic("VER120", "warning", f"reference output(s) {vacuous} lie entirely within atol "
                              f"{params.atol:g} of 0: any near-zero output passes, the comparison proves nothing",
                              hint="use weights with O(1) outputs (zoo models get the calibrated init), or "
                                   "lower atol for these outputs"))
    ties = modes.tied_selections(expected, params.top_k, mode)
    if ties:
        out.append(Diagnostic("VER121", "warning", f"{ties} tied score(s) where top-k / NMS selects: which one "
                              "is kept is arbitrary, so runtimes may legitimately disagree there",
                              hint="use weights whose scores are spread (zoo models get the calibrated init)"))
    return out


def top_k_classes(output: np.ndarray, labels_path: Path, k: int) -> tuple[list[dict], list[Diagnostic]]:
    """The first sample's k best classes with their labels, as the guide's scripts printed them."""
    try:
        labels = [line.rstrip("\r\n") for line in labels_path.read_text("utf-8").splitlines()]
    except FileNotFoundError:
        raise StageError("labels file not found", where=str(labels_path), code="VER104",
                         hint="give synset.txt-style labels, one per line, relative to the pipelines file") from None
    scores = np.asarray(output)
    scores = scores.reshape(scores.shape[0], -1)[0] if scores.ndim > 1 else scores.reshape(-1)
    diagnostics = []
    if len(labels) != scores.size:
        diagnostics.append(Diagnostic("VER105", "warning",
                                      f"{labels_path.name} has {len(labels)} labels, the output {scores.size} classes",
                                      hint="give the labels file that belongs to this model"))
    order = np.argsort(-scores, kind="stable")[:k]
    classes = [{"index": int(i), "label": labels[i] if i < len(labels) else "", "score": float(scores[i])}
               for i in order]
    return classes, diagnostics
