"""`factory:` imports only from the pipelines file's folder or installed packages."""
from __future__ import annotations

import pytest

from pipeline.core.errors import SourceError
from pipeline.model.resolve import import_factory, is_factory_spec


@pytest.mark.parametrize("spec", ["../evil:make", "/abs/evil:make", "C:\\evil:make", "a/b:make", "os.path:",
                                  "pkg..mod:make", "mod:make()"])
def test_paths_and_odd_forms_are_not_factory_specs(spec):
    assert not is_factory_spec(spec)


@pytest.mark.parametrize("spec", ["subprocess:getoutput", "os:system", "builtins:eval", "shutil:rmtree"])
def test_python_stdlib_is_refused_before_anything_is_called(spec, tmp_path):
    with pytest.raises(SourceError) as info:
        import_factory(spec, tmp_path)
    assert info.value.code == "SRC106"


def test_a_builtin_reexported_from_the_folder_is_refused(tmp_path):
    (tmp_path / "sneaky.py").write_text("from os import system as make\n")
    with pytest.raises(SourceError) as info:
        import_factory("sneaky:make", tmp_path)
    assert info.value.code == "SRC106"


def test_a_factory_beside_the_pipelines_file_is_imported(tmp_path):
    (tmp_path / "myfactory.py").write_text("def make():\n    return 42\n")
    assert import_factory("myfactory:make", tmp_path)() == 42


def test_a_truncated_gluon_params_file_is_refused_before_mxnet_reads_it(tmp_path):
    from pipeline.core.errors import ModelError
    from pipeline.model.resolve import build_block

    (tmp_path / "netfactory.py").write_text(
        "from mxnet import gluon\n\ndef make():\n    return gluon.nn.Dense(4, in_units=8)\n")
    block = build_block(factory="netfactory:make", config_dir=tmp_path)
    block.save_parameters(str(tmp_path / "net.params"))
    data = (tmp_path / "net.params").read_bytes()
    (tmp_path / "net.params").write_bytes(data[:len(data) - 20])
    with pytest.raises(ModelError) as info:
        build_block(factory="netfactory:make", config_dir=tmp_path, params=tmp_path / "net.params")
    assert info.value.code == "LDR201" and "net.params" in info.value.where
