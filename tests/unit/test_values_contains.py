"""`values.contains`: the Python side of a thread search's `values` filter keeps jsonb's `@>` semantics."""

from __future__ import annotations

from typing import Any

import pytest

from engine.durable.values import contains

CASES: list[tuple[Any, Any, bool]] = [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {"c": None}, False),
    ({"a": {"b": [1, 2, 3]}}, {"a": {"b": [3, 1]}}, True),
    ({"a": {"b": [1, 2]}}, {"a": {"b": [4]}}, False),
    ({"m": [{"t": "ai", "c": "x"}, {"t": "human"}]}, {"m": [{"c": "x"}]}, True),
    ({"m": [{"t": "ai"}]}, {"m": {"t": "ai"}}, False),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": True}, {"a": 1}, False),
    ({"a": 1}, {"a": True}, False),
    ({"a": None}, {"a": None}, True),
    ({"a": [1, 2]}, {"a": 1}, False),  # only a top-level array contains a scalar
    ([1, 2], 1, True),
    ({"a": "x"}, {}, True),
]


@pytest.mark.parametrize(("value", "part", "expected"), CASES)
def test_contains_as_jsonb(value: Any, part: Any, expected: bool) -> None:
    assert contains(value, part) is expected
