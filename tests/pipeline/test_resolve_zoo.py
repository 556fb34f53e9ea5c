"""The zoo name table in pipeline/model/resolve.py is exactly the one get_model accepts."""

import pytest

from pipeline.core.errors import ModelError
from pipeline.model.resolve import ZOO_NAMES, zoo_block, zoo_names


def test_table_equals_get_models_own_list():
    from mxnet.gluon.model_zoo import vision

    with pytest.raises(ValueError) as info:
        vision.get_model("no_such_model")
    listed = str(info.value).split("Available options are")[1].split()
    assert sorted(ZOO_NAMES) == sorted(listed)
    assert set(ZOO_NAMES) <= set(zoo_names())  # beside the other zoos' names


def test_gluonnlp_names_are_ones_its_get_model_accepts():
    gluonnlp = pytest.importorskip("gluonnlp")
    from pipeline.model.zoos.gluonnlp import VOCAB_SIZES

    with pytest.raises(ValueError) as info:
        gluonnlp.model.get_model("no_such_model")
    listed = str(info.value).split("Available options are")[1].split()
    assert set(VOCAB_SIZES) <= set(listed) and set(VOCAB_SIZES) <= set(zoo_names())


def test_unknown_zoo_name_is_a_model_error_with_a_suggestion():
    with pytest.raises(ModelError) as info:
        zoo_block("resnet18_v3")
    assert "did you mean" in info.value.message
