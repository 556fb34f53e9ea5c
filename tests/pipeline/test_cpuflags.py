"""CPU flags from /proc/cpuinfo: the bf16 probe and the flags BENCHMARKS.md prints."""
from pipeline.precision import cpuflags


def test_flags_and_model_are_read_from_cpuinfo(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512_vnni amx_bf16 amx_tile\n"
                    "\nprocessor\t: 1\nflags\t\t: fpu\n")
    monkeypatch.setattr(cpuflags, "CPUINFO", info)
    cpuflags.cpu_flags.cache_clear()
    cpuflags.cpu_model.cache_clear()
    try:
        assert cpuflags.cpu_flags() == frozenset({"fpu", "avx2", "avx512_vnni", "amx_bf16", "amx_tile"})
        assert cpuflags.cpu_model() == "Test CPU 9000"
        assert cpuflags.has_bf16()
        assert cpuflags.precision_flags() == {"avx512_bf16": False, "amx": True, "vnni": True}
    finally:
        cpuflags.cpu_flags.cache_clear()
        cpuflags.cpu_model.cache_clear()


def test_no_cpuinfo_means_no_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(cpuflags, "CPUINFO", tmp_path / "missing")
    cpuflags.cpu_flags.cache_clear()
    try:
        assert cpuflags.cpu_flags() == frozenset() and not cpuflags.has_bf16()
    finally:
        cpuflags.cpu_flags.cache_clear()


def test_without_bf16_flags():
    assert not cpuflags.has_bf16(frozenset({"avx512f", "avx512_vnni"}))
    assert cpuflags.has_bf16(frozenset({"avx512_bf16"}))
