"""GluonCV zoo (pipeline/model/zoos/gluoncv.py) and the calibrated init (pipeline/model/calibrated_init.py)."""

import numpy as np
import pytest

from pipeline.model import zoos
from pipeline.model.bundle import TensorSpec

ISSUE_MODELS = {
    "classification": ["cifar_resnet20_v1", "darknet53", "googlenet", "mobilenetv3_small", "mobilenetv3_large",
                       "resnest14", "resnet50_v1d_0.86", "resnext50_32x4d", "se_resnext50_32x4d", "xception"],
    "detection": ["ssd_300_vgg16_atrous_voc", "ssd_512_mobilenet1.0_voc", "ssd_512_resnet50_v1_voc",
                  "yolo3_mobilenet1.0_voc", "yolo3_darknet53_voc", "faster_rcnn_resnet50_v1b_voc",
                  "faster_rcnn_fpn_resnet50_v1b_coco", "center_net_resnet18_v1b_voc", "mask_rcnn_resnet18_v1b_coco"],
    "segmentation": ["fcn_resnet50_ade", "deeplab_resnet50_ade", "psp_resnet50_ade"],
    "pose": ["simple_pose_resnet18_v1b", "mobile_pose_mobilenetv3_small"],
    "action": ["resnet18_v1b_kinetics400", "inceptionv1_kinetics400"],
}


def test_issue_models_resolve_to_gluoncv_with_their_family():
    for family, names in ISSUE_MODELS.items():
        for name in names:
            zoo = zoos.find_zoo(name)
            assert (zoo.name, zoo.family(name)) == ("gluoncv", family), name


def test_mxnet_vision_keeps_shared_names_and_unbuildable_names_are_not_offered():
    assert zoos.find_zoo("resnet50_v1").name == "mxnet-vision"
    names = set(zoos.find_zoo("yolo3_darknet53_voc").names())
    assert not [n for n in names if n.endswith(("_int8", "_custom")) or n.startswith(("custom_", "monodepth2"))]
    assert len(names) > 250


def test_default_inputs_per_family():
    zoo = zoos.find_zoo("ssd_300_vgg16_atrous_voc")
    shapes = {n: zoo.default_inputs(n)[0].shape for n in
              ("ssd_300_vgg16_atrous_voc", "ssd_512_mobilenet1.0_voc", "yolo3_darknet53_voc", "cifar_resnet20_v1",
               "simple_pose_resnet18_v1b", "c3d_kinetics400", "fcn_resnet50_ade")}
    assert shapes == {"ssd_300_vgg16_atrous_voc": (1, 3, 300, 300), "ssd_512_mobilenet1.0_voc": (1, 3, 512, 512),
                      "yolo3_darknet53_voc": (1, 3, 416, 416), "cifar_resnet20_v1": (1, 3, 32, 32),
                      "simple_pose_resnet18_v1b": (1, 3, 256, 192), "c3d_kinetics400": (1, 3, 16, 112, 112),
                      "fcn_resnet50_ade": (1, 3, 480, 480)}


def test_segmentation_default_input_follows_crop_size():
    zoo = zoos.find_zoo("psp_resnet50_ade")
    assert zoo.default_inputs("psp_resnet50_ade", {"crop_size": 128})[0].shape == (1, 3, 128, 128)


def test_build_never_downloads_even_where_gluoncv_ignores_pretrained_base(monkeypatch):
    """resnet18_v1b_kinetics400 builds its backbone with pretrained=True whatever it is given."""
    from gluoncv.model_zoo import model_store

    def download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(model_store, "download", download, raising=False)
    zoo = zoos.find_zoo("resnet18_v1b_kinetics400")
    block = zoo.build("resnet18_v1b_kinetics400", {}, 0)
    assert model_store.get_model_file.__module__ == "gluoncv.model_zoo.model_store"  # restored
    import mxnet as mx

    assert block(mx.nd.zeros((1, 3, 32, 32))).shape == (1, 400)


def _forward(block, shape, seed=1):
    import mxnet as mx

    out = block(mx.nd.array(np.random.default_rng(seed).standard_normal(shape).astype("float32")))
    return [o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])]


def test_calibrated_init_keeps_detector_outputs_finite_and_scores_spread():
    """Plain He init: SSD's boxes overflow through exp; calibrated: finite boxes, distinct scores."""
    name, shape = "ssd_512_mobilenet1.0_voc", (1, 3, 128, 128)
    zoo = zoos.find_zoo(name)
    block = zoo.build(name, {}, 0)
    record = zoo.calibrate(name, block, [TensorSpec("data", shape)], 0)
    assert record["init"] == "calibrated-v1" and record["seed"] == 0 and record["batchnorms_calibrated"] > 30
    ids, scores, boxes = _forward(block, shape)
    assert np.isfinite(boxes).all() and np.abs(boxes).max() < 1e5
    kept = scores[scores > 0]
    assert len(np.unique(kept)) == len(kept)
    variances = [p.data().asnumpy() for p in block.collect_params().values() if p.name.endswith("running_var")]
    assert min(v.min() for v in variances) > 0


@pytest.mark.parametrize("name", ["cifar_resnet20_v1", "mobilenetv2_0.25"])
def test_calibrated_init_gives_o1_activations_to_a_classifier(name):
    """Both zoos: MXNet's own mobilenetv2 under Xavier + BatchNorm at var 1 gave logits ~1e-14."""
    shape = (1, 3, 32, 32) if name.startswith("cifar") else (1, 3, 64, 64)
    zoo = zoos.find_zoo(name)
    block = zoo.build(name, {}, 0)
    record = zoo.calibrate(name, block, [TensorSpec("data", shape)], 0)
    assert record["init"] == "calibrated-v1"
    (logits,) = _forward(block, shape)
    assert 0.1 < np.sqrt(np.mean(logits ** 2)) < 10


def test_calibration_is_seeded():
    name, shape = "cifar_resnet20_v1", (1, 3, 32, 32)
    zoo = zoos.find_zoo(name)
    runs = []
    for _ in range(2):
        block = zoo.build(name, {}, 3)
        zoo.calibrate(name, block, [TensorSpec("data", shape)], 3)
        runs.append(_forward(block, shape)[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_shape_the_model_cannot_run_is_a_coded_source_error():
    from pipeline.core.errors import SourceError

    zoo = zoos.find_zoo("ssd_300_vgg16_atrous_voc")
    block = zoo.build("ssd_300_vgg16_atrous_voc", {}, 0)
    with pytest.raises(SourceError) as info:
        zoo.calibrate("ssd_300_vgg16_atrous_voc", block, [TensorSpec("data", (1, 3, 64, 64))], 0)
    assert info.value.code == "SRC107" and "(1, 3, 64, 64)" in info.value.message
