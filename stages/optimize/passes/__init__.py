"""Graph passes, registered in PASSES on import. Every pass module is listed here, once."""
from stages.optimize.passes import cse, eliminate, fold_batchnorm, fold_constants, onednn_fuse, strip_training  # noqa: F401
from stages.optimize.passes.base import PASSES, Pass, register_pass

__all__ = ["PASSES", "Pass", "register_pass"]
