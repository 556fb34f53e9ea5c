"""Every stage, registered on import. The list is explicit: a new stage module is added here."""
from stages.sources import gluon  # noqa: F401  (the gluon source stage and its reference)
from stages.sources import checkpoint  # noqa: F401  (the checkpoint source stage and its reference)
from stages.sources import onnx  # noqa: F401  (the onnx source stage)
from stages.sources import onnx_reference  # noqa: F401  (the onnxruntime reference kind)
from stages import check  # noqa: F401
from stages import optimize  # noqa: F401
from stages import quantize  # noqa: F401
from stages import partition  # noqa: F401
from stages import deploy  # noqa: F401
from stages import verify  # noqa: F401
