"""Every registered rule has golden tests; every code a rule can emit is documented."""
import re
from pathlib import Path

from pipeline.checks import RULES

TESTS = Path(__file__).parent
DOCS = Path(__file__).parents[2] / "docs" / "diagnostics.md"
SOURCES = Path(__file__).parents[2] / "pipeline" / "checks"


def test_every_rule_is_exercised_by_a_test():
    text = "".join(p.read_text() for p in TESTS.glob("test_checks_*.py") if p.name != Path(__file__).name)
    untested = [name for name in RULES.names() if f'"{name}"' not in text]
    assert untested == []


def test_every_code_is_documented_and_every_documented_code_exists():
    emitted = set()
    # the export-warning capture (EI913) is shared with the ONNX targets, so it lives with the exporter
    for path in [*SOURCES.glob("*.py"), SOURCES.parent / "onnx" / "export_warnings.py"]:
        emitted |= set(re.findall(r'"(EI\d{3})"', path.read_text()))
    documented = set(re.findall(r"^### (EI\d{3})", DOCS.read_text(), flags=re.M))
    assert emitted and emitted == documented
