"""GluonCV's model zoo (gluoncv 0.10.5): classification, detection, segmentation, pose, action.

Names are gluoncv's own `model_zoo.get_model_list()`, minus those that cannot be built with
random weights as named: `*_int8` (they load quantized graphs from gluoncv's download cache),
`*_custom` / `custom_*` (they need the user's class list), and the families with no verify
mode here (depth estimation, tracking). A name MXNet's vision zoo also has (resnet50_v1,
vgg16, ...) stays MXNet's: it is not offered here.

Nothing is downloaded. `pretrained` (and `pretrained_base` where the constructor takes it)
are forced off, and because some gluoncv constructors ignore `pretrained_base`
(`resnet18_v1b_kinetics400` builds its backbone with the class default, True), every build
runs with gluoncv's `get_model_file` replaced by a stub whose path loads nothing: a backbone
that would have been fetched is left to the random init. Weights come from
pipeline/model/calibrated_init.py.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import re

from pipeline.model.bundle import TensorSpec
from pipeline.model.zoos.base import Zoo, register_zoo
from pipeline.core.packages import importable

# The constructor's module (under gluoncv.model_zoo) decides the family: gluoncv groups its
# models by task. First matching prefix wins; a module not listed is not offered.
_FAMILY_BY_MODULE = (
    ("action_recognition.", "action"),
    ("simple_pose.", "pose"),
    ("alpha_pose.", "pose"),
    ("ssd.", "detection"),
    ("yolo.yolo3", "detection"),
    ("rcnn.", "detection"),
    ("center_net.", "detection"),
    ("fcn", "segmentation"),
    ("pspnet", "segmentation"),
    ("deeplab", "segmentation"),
    ("danet", "segmentation"),
    ("icnet", "segmentation"),
    ("fastscnn", "segmentation"),
    ("hrnet", "hrnet"),  # hrnet_*_c classify, hrnet_*_s segment: decided by the name's suffix
    ("quantized.", None),
    ("monodepthv2.", None),
    ("siamrpn.", None),
    ("", "classification"),
)
_UNBUILDABLE = re.compile(r"(_int8$|_custom$|^custom_)")
_FRAMES = re.compile(r"^slowfast_(\d+)x(\d+)_")


def _module_family(module: str, name: str) -> str | None:
    tail = module.removeprefix("gluoncv.model_zoo.")
    for prefix, family in _FAMILY_BY_MODULE:
        if tail.startswith(prefix):
            if family == "hrnet":
                return "segmentation" if name.endswith("_s") else "classification"
            return family
    return None


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, object]]:
    """{name: (family, constructor)} of every buildable gluoncv model."""
    from gluoncv.model_zoo import model_zoo

    from pipeline.model.zoos.mxnet_vision import NAMES as MXNET_VISION

    out = {}
    for name, make in model_zoo._models.items():  # get_model's own table (gluoncv 0.10.5 is frozen)
        family = _module_family(make.__module__, name)
        if family is not None and not _UNBUILDABLE.search(name) and name not in MXNET_VISION:
            out[name] = (family, make)
    return out


@contextlib.contextmanager
def _nothing_downloaded():
    """Make gluoncv's pretrained-weight loads no-ops while a constructor runs (see the docstring).

    `get_model_file` returns a marker path and `Block.load_parameters` skips that path;
    `ParameterDict.reset_ctx`, which the constructors call after loading, skips parameters
    that are not initialized yet (they are, on the CPU, right after). Restored on the way out.
    """
    from gluoncv.model_zoo import model_store
    from mxnet import gluon

    marker = "<mxdeploy: pretrained weights are not loaded>"
    saved = model_store.get_model_file, gluon.Block.load_parameters, gluon.Parameter.reset_ctx

    def load_parameters(self, filename, *args, **kwargs):
        if filename != marker:
            return saved[1](self, filename, *args, **kwargs)

    def reset_ctx(self, ctx):
        if self._data is not None or self._deferred_init:
            saved[2](self, ctx)

    model_store.get_model_file = lambda *a, **k: marker
    gluon.Block.load_parameters, gluon.Parameter.reset_ctx = load_parameters, reset_ctx
    try:
        yield
    finally:
        model_store.get_model_file, gluon.Block.load_parameters, gluon.Parameter.reset_ctx = saved


@register_zoo
class GluonCV(Zoo):
    name = "gluoncv"
    summary = "gluoncv.model_zoo 0.10.5 (classification, detection, segmentation, pose, action)"
    calibrated_init = True

    @classmethod
    def is_available(cls) -> bool:
        return importable("gluoncv")

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(_table()))

    def family(self, name: str) -> str:
        return _table()[name][0]

    def build(self, name: str, kwargs: dict, seed: int):
        import mxnet as mx

        from pipeline.model.calibrated_init import he_normal

        make = _table()[name][1]
        forced = {"pretrained": False}
        if "pretrained_base" in inspect.signature(make).parameters:
            forced["pretrained_base"] = False
        mx.random.seed(seed)
        with _nothing_downloaded(), mx.name.NameManager():
            block = make(**{**kwargs, **forced})
        block.initialize(he_normal(), force_reinit=False)
        return block

    def default_inputs(self, name: str, kwargs: dict | None = None) -> list[TensorSpec]:
        """The input each model was trained at (tests declare smaller ones where the model allows);
        a segmentation model's follows its `crop_size` / `height` / `width` kwargs."""
        return [TensorSpec("data", _default_shape(name, self.family(name), dict(kwargs or {})))]


def _default_shape(name: str, family: str, kwargs: dict) -> tuple[int, ...]:
    if family == "detection":
        for side in (300, 512):
            if name.startswith(f"ssd_{side}_"):
                return (1, 3, side, side)
        return (1, 3, 416, 416) if name.startswith("yolo3_") else (1, 3, 512, 512)
    if family == "segmentation":
        side = int(kwargs.get("crop_size", 480))  # SegBaseModel's: height and width default to it
        return (1, 3, int(kwargs.get("height", side)), int(kwargs.get("width", side)))
    if family == "pose":
        return (1, 3, 256, 192)
    if family == "action":
        frames = _FRAMES.match(name)
        if frames:  # slow and fast pathways stacked along time: T/alpha + T frames
            return (1, 3, int(frames.group(1)) + 32, 224, 224)
        if name.startswith(("c3d_", "r2plus1d_")):
            return (1, 3, 16, 112, 112)
        if name.startswith(("i3d_", "p3d_")):
            return (1, 3, 32, 224, 224)
        return (1, 3, 299, 299) if name.startswith("inceptionv3_") else (1, 3, 224, 224)
    if name.startswith("cifar_"):
        return (1, 3, 32, 32)
    if name.startswith("inceptionv3"):
        return (1, 3, 299, 299)
    return (1, 3, 224, 224)
