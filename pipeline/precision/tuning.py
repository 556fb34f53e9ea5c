"""Pick the fastest deployment that stays correct: every target x precision, guarded, timed.

Shared by `pipeline tune` (pipeline/cli/tune.py) and `deploy: {target: auto}`
(stages/deploy.py). For each candidate the fp32 bundle is quantized with the quantize stage's
own quantizers (pipeline/precision/quantizers.py), deployed on its target, judged by the quantize
stage's guard against fp32 on MXNet's executor over held-out random rows (never the
calibration rows), and timed. The choice is the passing candidate with the lowest p50.

Candidates are read from the targets' declarations (`Target.tune`: today cpu fp32; onednn fp32,
bf16 and int8; onnxruntime fp32 and int8; openvino fp32, bf16 and int8) crossed with the
registered quantizers; adding a target adds its candidates. bf16 is tried only where the CPU
computes it natively (pipeline/precision/cpuflags.py).
A candidate whose target is not installed is left out; one that raises a coded error is in the
table with status `error`; one the guard refuses has status `failed`. A plugin's target takes
part like a built-in one when it declares `tune`.

Each candidate is quantized, deployed, guarded and timed in its own child process
(pipeline/run/child.py): a runtime that aborts or segfaults on one candidate is a table row
with status `crashed` and what it was doing, and tuning goes on. The child's log (and the
runtime's full text) is `work_dir/TARGET-PRECISION/log.txt`; a row that did not pass names it.
Without a work_dir (the temp folder is removed at exit) a failed candidate's log is copied to
a `mxdeploy-tune-logs-*` folder in the temp folder first, and the row names the copy.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


from pipeline.precision import cpuflags
from pipeline.model.bundle import ModelBundle
from pipeline.run.child import call_in_child
from pipeline.measure.latency import latency_ms


def candidates() -> list[tuple[str, str]]:
    """Every (target, precision) tune tries, in the order the table lists them: the precisions each
    registered target declares in `Target.tune`, fp32 as it is, a reduced precision only where a
    quantizer is registered for it (pipeline/precision/quantizers.py)."""
    from pipeline.precision.catalog import QUANTIZERS, key
    from pipeline.targets import TARGETS
    from pipeline.targets.base import PRECISIONS

    return [(name, p) for name, cls in TARGETS.items() for p in PRECISIONS
            if p in cls.tune and (p == "fp32" or key(p, name) in QUANTIZERS)]


def tune_options(target: str, precision: str) -> dict:
    """The target options the candidate (target, precision) is opened with (`Target.tune`)."""
    from pipeline.targets import TARGETS

    return dict(TARGETS.get(target).tune.get(precision, {}))


@dataclass(frozen=True)
class TuneSettings:
    samples: int = 32  # calibration rows (random, seeded)
    holdout: int = 200  # guard rows, after the calibration rows
    runs: int = 20  # timed forwards per candidate
    warmup: int = 3
    seed: int = 0
    min_cosine: float = 0.99
    max_rel_err: float = 0.2
    min_top1_agreement: float = 0.99
    min_detection_agreement: float = 0.9
    candidate_timeout: float | None = 1800.0  # seconds one candidate's child process may take


@dataclass
class Row:
    target: str
    precision: str
    status: str  # passed | failed | error | crashed
    p50_ms: float | None = None
    p90_ms: float | None = None
    cosine: float | None = None
    max_rel_err: float | None = None
    top1_agreement: float | None = None
    detail: str = ""  # the guard's failures or the error, for the human table and deploy's report

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("target", "precision", "status", "p50_ms", "p90_ms", "cosine",
                                              "max_rel_err", "top1_agreement")}


@dataclass
class TuneResult:
    rows: list[Row]
    choice: Row | None
    reason: str
    bundles: dict[tuple[str, str], ModelBundle] = field(default_factory=dict)  # candidate -> its bundle

    def to_json(self, model: str) -> dict:
        """The `pipeline tune --json` object (DESIGN.md)."""
        choice = None if self.choice is None else {
            "target": self.choice.target, "precision": self.choice.precision, "p50_ms": self.choice.p50_ms,
            "cosine": self.choice.cosine}
        return {"model": model, "choice": choice, "table": [r.to_dict() for r in self.rows]}


def available_candidates(flags: frozenset[str] | None = None) -> list[tuple[str, str]]:
    from pipeline.targets import TARGETS

    from pipeline.targets.base import needs_bf16

    bf16 = cpuflags.has_bf16(flags)
    return [(t, p) for t, p in candidates() if TARGETS.get(t).is_available() and (bf16 or not needs_bf16(p))]


def candidate_bundle(bundle: ModelBundle, target: str, precision: str, calibration, work: Path,
                      run_dir: Path, settings: TuneSettings) -> ModelBundle:
    if precision == "fp32":
        return bundle
    from pipeline.precision.calibration import CalibrationParams
    from pipeline.precision.catalog import QUANTIZERS, QuantizeJob, key
    from pipeline.precision.settings import QuantizeParams

    params = QuantizeParams(precision=precision, target=target,
                            calibration=CalibrationParams(samples=settings.samples), holdout=settings.holdout,
                            seed=settings.seed, min_cosine=settings.min_cosine, max_rel_err=settings.max_rel_err,
                            min_top1_agreement=settings.min_top1_agreement,
                            min_detection_agreement=settings.min_detection_agreement)
    folder = work / f"{target}-{precision}"
    folder.mkdir(parents=True, exist_ok=True)
    return QUANTIZERS.get(key(precision, target))(QuantizeJob(bundle, params, calibration, folder, run_dir))


def tune(bundle: ModelBundle, *, settings: TuneSettings = TuneSettings(), work_dir: Path | None = None,
         run_dir: Path | None = None, candidates: list[tuple[str, str]] | None = None, progress=None) -> TuneResult:
    """Deploy, guard and time every candidate; quantized artifacts go under `work_dir`.

    `run_dir` is what artifact paths in the candidates' metadata are relative to (deploy's
    run directory); both default to a temp folder that lives as long as the process.
    """
    from pipeline.targets.cpu import CpuTarget
    from pipeline.precision.calibration import CalibrationParams, batch_size, split_feeds

    temporary = work_dir is None
    if temporary:
        work_dir = Path(tempfile.mkdtemp(prefix="mxdeploy-tune-"))
        atexit.register(shutil.rmtree, work_dir, True)
    run_dir = run_dir or work_dir
    feeds = split_feeds(bundle.inputs, CalibrationParams(samples=settings.samples), None,
                        holdout=settings.holdout, seed=settings.seed)
    batch = batch_size(bundle.inputs)
    with CpuTarget(api="symbol") as reference:
        reference.deploy(bundle)
        refs = [reference.infer(feed) for feed in feeds.holdout]
    rows, bundles = [], {}
    for target, precision in candidates or available_candidates():
        if progress:
            progress(target, precision)
        job = CandidateJob(bundle, target, precision, feeds.calibration, feeds.holdout, refs, batch,
                           work_dir, run_dir, settings)
        outcome = call_in_child("pipeline.precision.tuning:evaluate_candidate", job,
                                folder=work_dir / f"{target}-{precision}", timeout=settings.candidate_timeout)
        if outcome.status == "ok":
            row, candidate = outcome.value
            bundles[(target, precision)] = candidate if candidate is not None else bundle
        else:
            row = Row(target, precision, outcome.status,
                      detail=_pointing_at_a_kept_log(outcome, work_dir / f"{target}-{precision}", temporary))
        rows.append(row)
    passed = [r for r in rows if r.status == "passed"]
    choice = min(passed, key=lambda r: r.p50_ms) if passed else None
    return TuneResult(rows, choice, _reason(choice, rows, settings), bundles)


@dataclass
class CandidateJob:
    """Everything one candidate's child process needs: plain, picklable data."""

    bundle: ModelBundle
    target: str
    precision: str
    calibration: list
    holdout: list
    refs: list
    batch: int
    work_dir: Path
    run_dir: Path
    settings: TuneSettings


def evaluate_candidate(job: CandidateJob) -> tuple[Row, ModelBundle | None]:
    """Quantize, deploy, guard and time one candidate (in its child process; see the docstring).

    Returns its row and its bundle when that differs from the fp32 one (a quantized candidate);
    a coded error is raised and becomes the row's reason in the parent.
    """
    from pipeline.targets.build import open_target
    from pipeline.precision.guard import guard_mode, judge

    settings = job.settings
    candidate = candidate_bundle(job.bundle, job.target, job.precision, job.calibration, job.work_dir,
                                 job.run_dir, settings)
    row = Row(job.target, job.precision, "error")
    with open_target(job.target, candidate.metadata, job.run_dir, **tune_options(job.target, job.precision)) as session:
        session.deploy(candidate)
        gots = [session.infer(feed) for feed in job.holdout]
        guard = judge(job.refs, gots, job.batch, min_cosine=settings.min_cosine, max_rel_err=settings.max_rel_err,
                      min_top1_agreement=settings.min_top1_agreement, mode=guard_mode(job.bundle),
                      min_detection_agreement=settings.min_detection_agreement)
        timing = latency_ms(session, job.holdout[0], runs=settings.runs, warmup=settings.warmup)
        row.p50_ms, row.p90_ms = timing["p50"], timing["p90"]
    row.cosine, row.max_rel_err = round(guard.min_cosine, 6), round(guard.max_rel_err, 6)
    row.top1_agreement = round(guard.top1_agreement, 6)
    row.status = "passed" if guard.passed else "failed"
    row.detail = "; ".join(guard.failures)
    return row, (None if candidate is job.bundle else candidate)


def _pointing_at_a_kept_log(outcome, folder: Path, temporary: bool) -> str:
    """The row's reason naming a log that exists after tune: the candidate's own under a caller's
    work_dir, else a copy outside the temp folder (removed at exit, so its path would lie)."""
    from pipeline.run.child import LOG_FILE

    log = folder / LOG_FILE
    reason = outcome.reason
    if not log.is_file() or log.stat().st_size == 0:  # nothing written (an abort before any output)
        return reason.replace(f"; its log: {log}", "")
    kept = log
    if temporary:
        kept = _kept_logs_dir() / f"{folder.name}.log"
        shutil.copyfile(log, kept)
    reason = reason.replace(str(log), str(kept))
    return reason if str(kept) in reason else f"{reason}; its log: {kept}"


_KEPT: list[Path] = []


def _kept_logs_dir() -> Path:
    """One folder per process for the logs of failed candidates, made at the first one."""
    if not _KEPT:
        _KEPT.append(Path(tempfile.mkdtemp(prefix=f"mxdeploy-tune-logs-{time.strftime('%Y%m%d-%H%M%S')}-")))
    return _KEPT[0]


def _reason(choice: Row | None, rows: list[Row], settings: TuneSettings) -> str:
    guard = (f"cosine >= {settings.min_cosine:g} and relative error <= {settings.max_rel_err:g} on each of "
             f"{settings.holdout} held-out random inputs")
    if choice is None:
        return f"no deployment passed the guard ({guard})"
    passed = sorted((r for r in rows if r.status == "passed"), key=lambda r: r.p50_ms)
    runner_up = f"; next: {passed[1].target} {passed[1].precision} at {passed[1].p50_ms:g} ms" if len(passed) > 1 else ""
    refused = [f"{r.target} {r.precision}" for r in rows if r.status != "passed"]
    left = f"; not eligible: {', '.join(refused)}" if refused else ""
    return (f"{choice.target} {choice.precision} is the fastest of {len(passed)} deployments that keep {guard} "
            f"(p50 {choice.p50_ms:g} ms){runner_up}{left}")
