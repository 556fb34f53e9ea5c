"""MXNet's own vision zoo (`mxnet.gluon.model_zoo.vision`): the 34 classifiers of MXNet 1.9.1."""
from __future__ import annotations

from pipeline.model.bundle import TensorSpec
from pipeline.model.zoos.base import Zoo, register_zoo

# The names `mxnet.gluon.model_zoo.vision.get_model` accepts. MXNet 1.9.1 (the last release)
# keeps this table as a local dict inside get_model, so it is copied here.
NAMES = (
    "resnet18_v1", "resnet34_v1", "resnet50_v1", "resnet101_v1", "resnet152_v1",
    "resnet18_v2", "resnet34_v2", "resnet50_v2", "resnet101_v2", "resnet152_v2",
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201",
    "squeezenet1.0", "squeezenet1.1", "inceptionv3",
    "mobilenet1.0", "mobilenet0.75", "mobilenet0.5", "mobilenet0.25",
    "mobilenetv2_1.0", "mobilenetv2_0.75", "mobilenetv2_0.5", "mobilenetv2_0.25",
)


@register_zoo
class MxnetVision(Zoo):
    name = "mxnet-vision"
    summary = "mxnet.gluon.model_zoo.vision (image classification)"
    # Xavier weights with BatchNorm at mean 0 / var 1 let activations vanish layer by layer
    # (mobilenetv2_1.0's logits ~1e-14: a verify decided by atol alone, and int8 ranges of zero).
    calibrated_init = True

    def names(self) -> tuple[str, ...]:
        return NAMES

    def build(self, name: str, kwargs: dict, seed: int):
        import mxnet as mx
        from mxnet.gluon.model_zoo import vision

        from pipeline.model.calibrated_init import he_normal

        mx.random.seed(seed)
        with mx.name.NameManager():  # a fresh counter: param names do not depend on earlier blocks
            block = vision.get_model(name, **{**kwargs, "pretrained": False})
        block.initialize(he_normal())
        return block

    def default_inputs(self, name: str, kwargs: dict | None = None) -> list[TensorSpec]:
        """Inception v3 takes 299x299; every other vision zoo model 224x224."""
        side = 299 if name.startswith("inception") else 224
        return [TensorSpec("data", (1, 3, side, side))]
