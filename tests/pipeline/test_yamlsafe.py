from pathlib import Path

import pytest

from pipeline.run.config.yamlsafe import load_located
from pipeline.core.errors import ConfigError


def _load(tmp_path: Path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_located(path, display="p.yaml")


def _codes(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return [e.code for e in info.value.errors], info.value.lines()


def test_positions_of_keys_and_values(tmp_path):
    doc = _load(tmp_path, "a: 1\nb:\n  c: [1, 2]\n")
    assert doc.data == {"a": 1, "b": {"c": [1, 2]}}
    assert doc.where(("b", "c", 1)) == "p.yaml:3:10"
    assert doc.where(("b", "c"), key=True) == "p.yaml:3:3"
    assert doc.where(("b", "missing")) == "p.yaml:3:3"  # falls back to the closest known parent


def test_duplicate_keys_are_errors(tmp_path):
    codes, lines = _codes(tmp_path, "a: 1\na: 2\n")
    assert codes == ["CFG002"]
    assert lines[0].startswith("p.yaml:2:1: duplicate key 'a' (first at line 1)")


def test_python_tags_are_refused_and_never_constructed(tmp_path):
    codes, lines = _codes(tmp_path, "a: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    assert codes == ["CFG003"]
    assert "not allowed" in lines[0]


def test_alias_bomb_is_bounded(tmp_path):
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for name in "bcdefgh":
        text += f"{name}: &{name} [" + ", ".join(f"*{prev}" for _ in range(10)) + "]\n"
        prev = name
    codes, _ = _codes(tmp_path, text)
    assert "CFG003" in codes


def test_syntax_error_points_at_line(tmp_path):
    codes, lines = _codes(tmp_path, "a: [1, 2\nb: 3\n")
    assert codes == ["CFG001"]
    assert lines[0].startswith("p.yaml:")


def test_merge_keys_refused(tmp_path):
    codes, _ = _codes(tmp_path, "base: &b {x: 1}\nother:\n  <<: *b\n")
    assert codes == ["CFG003"]


def test_missing_file_and_multiple_documents(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_located(tmp_path / "nope.yaml")
    assert info.value.errors[0].code == "CFG013"
    codes, _ = _codes(tmp_path, "a: 1\n---\nb: 2\n")
    assert codes == ["CFG013"]
