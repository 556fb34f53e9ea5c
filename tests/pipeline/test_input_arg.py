"""`--input NAME=D1,D2[:dtype][:low..high][:int][:batch=A][:dyn=A,..]`: the CLI form of a typed input."""
import pytest

from pipeline.core.errors import UsageError
from pipeline.model.bundle import TensorSpec
from pipeline.model.resolve import parse_input_arg


def test_plain_shape_is_unchanged():
    assert parse_input_arg("data=1,3,224,224") == TensorSpec("data", (1, 3, 224, 224))


def test_typed_input_with_range_integer_and_axes():
    assert parse_input_arg("data0=2,16:float32:0..30522:int:dyn=1") == TensorSpec(
        "data0", (2, 16), "float32", range=(0, 30522), integer=True, dynamic=(1,))
    assert parse_input_arg("x=16,2:-1.5..2.5:batch=1:dyn=1,0") == TensorSpec(
        "x", (16, 2), range=(-1.5, 2.5), batch_axis=1, dynamic=(0, 1))
    assert parse_input_arg("n=2:int32:1..17").range == (1, 17)


@pytest.mark.parametrize("text, fragment", [
    ("a=2:5..1", "low must be below high"),
    ("a=2:uint8:0..300", "does not fit uint8"),
    ("a=2:float16:0..30522:int", "not exact in float16"),
    ("a=2:bogus", "unknown option 'bogus'"),
    ("a=2:dyn=1", "unknown option 'dyn=1'"),
    ("a=2:batch=3", "unknown option 'batch=3'"),
])
def test_bad_options_are_usage_errors(text, fragment):
    with pytest.raises(UsageError) as err:
        parse_input_arg(text)
    assert err.value.code == "CLI001" and fragment in err.value.message
