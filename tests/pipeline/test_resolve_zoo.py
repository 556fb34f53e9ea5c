"""The zoo name table in pipeline/model/resolve.py is exactly the one get_model accepts."""

import pytest

from pipeline.core.errors import ModelError
from pipeline.model.resolve import ZOO_NAMES, zoo_block, zoo_names


def test_table_equals_get_models_own_list():
    from mxnet.gluon.model_zoo import vision

    with pytest.raises(ValueError) as info:
        vision.get_model("no_such_model")
    listed = str(info.value).split("Available options are")[1].split()
    assert sorted(ZOO_NAMES) == sorted(listed) == zoo_names()


def test_unknown_zoo_name_is_a_model_error_with_a_suggestion():
    with pytest.raises(ModelError) as info:
        zoo_block("resnet18_v3")
    assert "did you mean" in info.value.message
