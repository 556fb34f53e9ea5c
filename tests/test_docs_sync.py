"""Docs that are generated or enumerated from code stay in step with it."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE_RE = re.compile(r"""["'](?P<code>(?:CFG|CLI|REG|BND|MDL|SRC|INP|DEP|VER|TGT|RUN|PLG|RPT|ACC|ONNX|GRF|OPT|PRT|EXP|EI|INT|LDR|QNT|TUN|CNV|OVN|ORT|LOC)\d{3})["']""")


def test_stages_doc_matches_the_parameter_specs():
    from pipeline.cli.stages import stage_docs_markdown

    assert (REPO / "docs" / "stages.md").read_text() == stage_docs_markdown() + "\n", \
        "regenerate with: pipeline stages --markdown > docs/stages.md"


def test_every_code_raised_in_the_code_is_documented():
    documented = (REPO / "docs" / "errors.md").read_text() + (REPO / "docs" / "diagnostics.md").read_text()
    missing = {}
    for folder in ("pipeline", "stages"):
        for path in (REPO / folder).rglob("*.py"):
            for match in CODE_RE.finditer(path.read_text()):
                if match["code"] not in documented:
                    missing.setdefault(match["code"], str(path.relative_to(REPO)))
    assert missing == {}, f"codes used but not in docs/errors.md or docs/diagnostics.md: {missing}"


def test_targets_doc_capability_table_is_the_targets_declarations():
    from pipeline.targets import capabilities_markdown

    text = (REPO / "docs" / "targets.md").read_text()
    table = text.split("<!-- capabilities:begin", 1)[1].split("-->", 1)[1].split("<!-- capabilities:end -->")[0]
    assert table.strip() == capabilities_markdown(), "regenerate with pipeline.targets.capabilities_markdown()"
