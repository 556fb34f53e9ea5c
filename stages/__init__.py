"""Every stage, registered on import. The list is explicit: a new stage module is added here."""
from stages.sources import gluon  # noqa: F401  (registers the gluon stage and its reference)
from stages.sources import checkpoint  # noqa: F401  (registers the checkpoint stage and its reference)
from stages import deploy  # noqa: F401
from stages import verify  # noqa: F401
from stages.checks import stage as check_stage  # noqa: F401  (check)
from stages.sources import onnx  # noqa: F401  (the onnx source stage)
from stages.importers.onnx import reference  # noqa: F401  (the onnxruntime reference kind)
from stages.optimize import stage as optimize_stage  # noqa: F401  (optimize and its passes)
from stages.partition import stage as partition_stage  # noqa: F401  (partition)
from stages.quantize import stage as quantize_stage  # noqa: F401  (quantize and its quantizers)
