import pytest

from pipeline.core import atomic


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "out.txt"
    atomic.write_text(dest, "old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(dest) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_success_replaces(tmp_path):
    dest = tmp_path / "sub" / "out.json"
    atomic.write_json(dest, {"a": 1})
    assert dest.read_text().strip().startswith("{")
    assert [p.name for p in dest.parent.iterdir()] == ["out.json"]
