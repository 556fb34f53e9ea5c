"""Model zoos: each module registers one on import; listed explicitly here (first wins a shared name)."""
from pipeline.model.zoos import mxnet_vision  # noqa: F401  (registers mxnet-vision)
from pipeline.model.zoos import gluoncv  # noqa: F401  (registers gluoncv)
from pipeline.model.zoos import gluonnlp  # noqa: F401  (registers gluonnlp)
from pipeline.model.zoos.base import ZOOS, Zoo, available_zoos, find_zoo, has_model, register_zoo, zoo_names

__all__ = ["ZOOS", "Zoo", "available_zoos", "find_zoo", "has_model", "register_zoo", "zoo_names"]
