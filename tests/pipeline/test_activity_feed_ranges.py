"""pipeline/core/activity.feed_ranges: a crash report's input ranges, computed once per fed array."""
from __future__ import annotations

import numpy as np

from pipeline.core import activity


def test_ranges_follow_the_arrays_and_are_reused_for_the_same_ones(monkeypatch):
    x = np.array([[-2.0, 5.0]], "float32")
    ids = np.array([3, 7], "int32")
    assert activity.feed_ranges({"x": x, "ids": ids}) == {"x": ["float32", [1, 2], -2.0, 5.0],
                                                          "ids": ["int32", [2], 3.0, 7.0]}
    read = []
    real_asarray = np.asarray
    monkeypatch.setattr(activity.np, "asarray", lambda value: read.append(1) or real_asarray(value))
    assert activity.feed_ranges({"x": x, "ids": ids})["x"][2:] == [-2.0, 5.0]
    assert read == []  # the same arrays again: no pass over the data
    y = np.array([[0.5, 9.0]], "float32")  # another array: its own ranges
    assert activity.feed_ranges({"x": y, "ids": ids})["x"][2:] == [0.5, 9.0]
    assert read == [1, 1]
    assert activity.feed_ranges({"x": x})["x"][2:] == [-2.0, 5.0]
