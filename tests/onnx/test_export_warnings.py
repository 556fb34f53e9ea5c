"""What counts as an exporter warning (EI913): the exporter's own, not a runtime's heuristics.

mx2onnx warns through the root logger; ONNX Runtime's transformer optimizer, which runs inside
the onnxruntime target's export, warns through `onnxruntime.*` loggers about its model-type
guess ('Model producer not matched: Expected "pytorch"'): that goes to the log, never to EI913.
"""
import logging

import pytest

from pipeline.onnx import export_warnings

EXPORTER = "box_nms: boxes of different classes will NOT be exempted from suppression"
OPTIMIZER = 'Model producer not matched: Expected "pytorch", Got "mxdeploy".'


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def root_log():
    root, keep = logging.getLogger(), _Keep()
    saved = root.handlers[:]
    root.handlers = [keep]
    yield keep.messages
    root.handlers = saved


@pytest.mark.parametrize("quiet", [True, False])
def test_a_runtime_warning_goes_to_the_log_and_only_the_exporter_warning_is_collected(root_log, quiet):
    with export_warnings.captured(quiet=quiet) as logged:
        logging.warning(EXPORTER)
        logging.getLogger("onnxruntime.transformers.optimizer").warning(OPTIMIZER)
    assert logged == [EXPORTER]
    assert root_log == ([OPTIMIZER] if quiet else [EXPORTER, OPTIMIZER])
    codes = [d.code for d in export_warnings.diagnostics(logged, [{"name": "nms0", "op": "_contrib_box_nms"}])]
    assert codes == ["EI913"]
