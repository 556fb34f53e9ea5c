import pytest

from pipeline.core.errors import InternalError, UnknownNameError
from pipeline.core.registry import Registry


def test_register_twice_raises():
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(InternalError):
        reg.register("a", 2)


def test_unknown_name_suggests():
    reg = Registry("thing")
    reg.register("resnet", 1)
    with pytest.raises(UnknownNameError) as info:
        reg.get("resnt")
    assert "did you mean 'resnet'" in info.value.message
    assert info.value.code == "REG001"
