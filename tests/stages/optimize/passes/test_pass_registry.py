"""Every registered pass has its own test module here, and it names the pass."""
from pathlib import Path

from stages.optimize.passes import PASSES

HERE = Path(__file__).parent


def test_every_pass_has_a_test_module():
    missing = [name for name in PASSES.names()
               if not (HERE / f"test_pass_{name}.py").is_file()
               or f'"{name}"' not in (HERE / f"test_pass_{name}.py").read_text()]
    assert not missing, f"passes without tests: {missing}"


def test_registry_holds_the_documented_passes():
    assert {"strip_training", "eliminate", "fold_constants", "fold_batchnorm", "cse",
            "onednn_fuse"} <= set(PASSES.names())
