"""Verify the Elastic Inference guide's two models (random weights) and print error and latency.

ResNet-50 through the Symbol API and ResNet-152 through the Module API, at 1x3x224x224, on
random and image inputs, with verify's default tolerance (atol 1e-4, rtol 1e-3):

    python bench/verify_guide_models.py [--runs 20]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import stages.deploy  # noqa: F401
import stages.sources.gluon  # noqa: F401
import stages.verify  # noqa: F401
from pipeline.model.bundle import TensorSpec
from pipeline.measure.png import write_png
from pipeline.core.stage import STAGES, RunContext
from stages.deploy import DeployParams
from stages.sources.gluon import GluonParams
from stages.verify import VerifyParams


def run_one(run_dir: Path, model: str, api: str, kind: str, image: Path, runs: int) -> dict:
    inputs = [TensorSpec("data", (1, 3, 224, 224))]
    bundle, session = None, None
    for index, (name, params) in enumerate([("gluon", GluonParams(model=model)),
                                            ("deploy", DeployParams(api=api)),
                                            ("verify", VerifyParams(input=kind, image=str(image), runs=runs))]):
        ctx = RunContext(model, run_dir / f"{index:02d}-{name}", run_dir, run_dir, inputs, stage_index=index,
                         session=session)
        ctx.stage_dir.mkdir(parents=True, exist_ok=True)
        out, result = STAGES.get(name)().run(bundle, params, ctx)
        bundle, session = out or bundle, ctx.session
    session.close()
    return {"status": result.status, **result.metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = write_png(tmp / "image.png", np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
        print("model         api     input   status  max_abs_err  max_rel_err  cosine        top1  p50_ms")
        for model, api in (("resnet50_v1", "symbol"), ("resnet152_v1", "module")):
            for kind in ("random", "image"):
                m = run_one(tmp / f"{model}-{kind}", model, api, kind, image, args.runs)
                print(f"{model:13} {api:7} {kind:7} {m['status']:7} {m['max_abs_err']:.3e}    "
                      f"{m['max_rel_err']:.3e}    {m['cosine']:.10f}  {m['top1_agreement']:.2f}  "
                      f"{m['latency_ms']['p50']:.1f}")


if __name__ == "__main__":
    main()
