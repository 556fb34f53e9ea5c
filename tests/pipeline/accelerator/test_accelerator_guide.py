"""The guide's four scripts, run as written with `import pipeline.eia` added and local files in
place of downloads (see guide/README.md), compared with the same scripts on mx.cpu()."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from accel_helpers import PYTHON, ROOT, child_env
from guide_files import write_checkpoint, write_png, write_synset

GUIDE = ROOT / "tests/pipeline/accelerator/guide"
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+")


def run_script(name: str, folder, on_cpu: bool) -> str:
    text = (GUIDE / name).read_text()
    if on_cpu:
        assert text.count("import pipeline.eia\n") == 1
        text = text.replace("import pipeline.eia\n", "").replace("mx.eia()", "mx.cpu()")
    script = folder / (("cpu_" if on_cpu else "eia_") + name)
    script.write_text(text)
    done = subprocess.run([PYTHON, str(script)], cwd=folder, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def assert_same_output(eia_out: str, cpu_out: str) -> None:
    """Same lines and words; numbers equal within float32 tolerance."""
    eia_lines, cpu_lines = eia_out.strip().splitlines(), cpu_out.strip().splitlines()
    assert len(eia_lines) == len(cpu_lines) and eia_lines
    for got, want in zip(eia_lines, cpu_lines):
        assert NUMBER.sub("#", got) == NUMBER.sub("#", want)
        np.testing.assert_allclose([float(n) for n in NUMBER.findall(got)],
                                   [float(n) for n in NUMBER.findall(want)], rtol=1e-4, atol=1e-5)


def test_simple_bind_of_exp(tmp_path):
    out = run_script("simple_bind_exp.py", tmp_path, on_cpu=False)
    assert_same_output(out, run_script("simple_bind_exp.py", tmp_path, on_cpu=True))
    assert out.count("[2.7182817]") == 10 and "@cpu(0)" in out


def test_bind_of_2a_plus_b_with_a_second_forward(tmp_path):
    out = run_script("bind_2a_plus_b.py", tmp_path, on_cpu=False)
    assert_same_output(out, run_script("bind_2a_plus_b.py", tmp_path, on_cpu=True))
    assert "[4. 7.]" in out and "[3. 3.]" in out


@pytest.fixture(scope="module")
def imagenet_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guide")
    write_synset(folder)
    write_png(folder / "cat.png")
    return folder


def test_resnet50_symbol_api(imagenet_folder):
    write_checkpoint(imagenet_folder, "resnet-50")
    out = run_script("mxnet_resnet50.py", imagenet_folder, on_cpu=False)
    assert_same_output(out, run_script("mxnet_resnet50.py", imagenet_folder, on_cpu=True))
    assert len(out.strip().splitlines()) == 5 and out.startswith("probability=")


@pytest.mark.slow
def test_resnet152_module_api(imagenet_folder):
    write_checkpoint(imagenet_folder, "resnet-152")
    out = run_script("resnet152_module.py", imagenet_folder, on_cpu=False)
    assert_same_output(out, run_script("resnet152_module.py", imagenet_folder, on_cpu=True))
    assert len(out.strip().splitlines()) == 5
