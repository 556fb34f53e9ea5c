"""Graph passes, registered in PASSES on import. Every pass module is listed here, once."""
from pipeline.graph.passes import cse  # noqa: F401
from pipeline.graph.passes import eliminate  # noqa: F401
from pipeline.graph.passes import fold_batchnorm  # noqa: F401
from pipeline.graph.passes import fold_constants  # noqa: F401
from pipeline.graph.passes import onednn_fuse  # noqa: F401
from pipeline.graph.passes import strip_training  # noqa: F401
from pipeline.graph.passes.base import PASSES, Pass, register_pass

__all__ = ["PASSES", "Pass", "register_pass"]
