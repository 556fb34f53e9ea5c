from hypothesis import given, strategies as st

from pipeline.run.config import matrix


def test_cells_in_written_order():
    assert matrix.cells({"m": ["a", "b"], "t": [1, 2]}) == [
        {"m": "a", "t": 1}, {"m": "a", "t": 2}, {"m": "b", "t": 1}, {"m": "b", "t": 2}]
    assert matrix.cell_name("zoo", {"m": "a", "t": 1}) == "zoo[m=a,t=1]"


def test_whole_value_keeps_type_and_partial_is_text():
    unknown = set()
    out = matrix.substitute({"a": "${n}", "b": "x-${n}", "c": ["${m}"]}, {"n": 3}, unknown)
    assert out == {"a": 3, "b": "x-3", "c": ["${m}"]}
    assert unknown == {"m"}


@given(st.dictionaries(st.sampled_from("abc"), st.lists(st.integers(), min_size=1, max_size=3), min_size=1))
def test_cell_count_is_the_product(grid):
    expected = 1
    for values in grid.values():
        expected *= len(values)
    assert len(matrix.cells(grid)) == expected
