"""Fixtures for stage tests: a RunContext laid out as the runner lays it out, and a stage runner."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.model.bundle import TensorSpec
from pipeline.core.stage import STAGES, RunContext

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class StageRunner:
    """Runs stages one after another in a run folder, as pipeline.run.worker does (bundle saved per stage)."""

    def __init__(self, run_dir: Path, config_dir: Path, inputs: list[TensorSpec]):
        self.run_dir = run_dir
        self.config_dir = config_dir
        self.inputs = inputs
        self.index = 0
        self.session = None

    def ctx(self, name: str) -> RunContext:
        stage_dir = self.run_dir / "pipe" / f"{self.index:02d}-{name}"
        stage_dir.mkdir(parents=True, exist_ok=True)
        return RunContext("pipe", stage_dir, self.run_dir, self.config_dir, list(self.inputs),
                          stage_index=self.index, session=self.session)

    def run(self, name: str, bundle, params):
        ctx = self.ctx(name)
        out, result = STAGES.get(name)().run(bundle, params, ctx)
        if out is not None:
            out.save(ctx.stage_dir)
        self.session = ctx.session
        self.index += 1
        self.last_ctx = ctx
        return out, result

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = None


@pytest.fixture
def make_runner(tmp_path):
    runners = []

    def make(inputs, config_dir: Path = EXAMPLES):
        runner = StageRunner(tmp_path / "run", config_dir, [TensorSpec(*i) if isinstance(i, tuple) else i
                                                            for i in inputs])
        runners.append(runner)
        return runner

    yield make
    for r in runners:
        r.close()


@pytest.fixture
def write_png():
    from pipeline.measure.png import write_png as writer

    return writer
