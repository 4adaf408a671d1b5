"""Limits from the environment, and the guard's pure checks (no services)."""

from __future__ import annotations

import pytest

from api.guard import Refusal, body_cap, inspect_json, json_depth
from duragraph.limits import Limits
from duragraph.settings import LIMIT_VARIABLES, Settings, limits_from_env


def test_every_limit_has_a_variable_and_defaults_apply() -> None:
    assert set(LIMIT_VARIABLES) == set(Limits.__dataclass_fields__)
    assert Settings.from_env({}).limits == Limits()
    env = {"DURAGRAPH_MAX_JSON_DEPTH": "7", "DURAGRAPH_BODY_TIMEOUT": "2.5", "DURAGRAPH_MAX_STREAMS": "9"}
    limits = limits_from_env(env)
    assert (limits.json_depth, limits.body_timeout_seconds, limits.streams_total) == (7, 2.5, 9)


@pytest.mark.parametrize(("value", "words"), [("ten", "whole number"), ("0", "greater than 0"), ("-3", "greater")])
def test_a_bad_limit_names_its_variable(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=f"DURAGRAPH_MAX_PAGE_SIZE={value!r}.*{words}"):
        limits_from_env({"DURAGRAPH_MAX_PAGE_SIZE": value})


def test_json_depth_skips_strings_and_counts_arrays_and_objects() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 500 + b"]" * 500) == 500


def test_body_caps_by_route_family() -> None:
    limits = Limits(run_body_bytes=3, store_body_bytes=2, other_body_bytes=1)
    assert body_cap("/threads/x/runs", limits)[0] == 3 and body_cap("/runs/wait", limits)[0] == 3
    assert body_cap("/store/items", limits)[0] == 2 and body_cap("/assistants", limits)[0] == 1


def test_inspect_json_refusals() -> None:
    limits = Limits(json_depth=3, page_size=10)
    with pytest.raises(Refusal) as deep:
        inspect_json(b'{"a": {"b": {"c": {}}}}', limits)
    assert (deep.value.status, deep.value.code) == (422, "nesting_too_deep")
    with pytest.raises(Refusal) as page:
        inspect_json(b'{"limit": 11}', limits)
    assert page.value.status == 422 and "DURAGRAPH_MAX_PAGE_SIZE" in page.value.detail
    with pytest.raises(Refusal) as nul:
        inspect_json(b'{"metadata": {"k\\u0000": 1}}', limits)
    assert nul.value.detail.startswith("metadata.k\\u0000:")
    inspect_json(b'{"limit": 10, "metadata": {"a": "\\ud83d\\ude00"}}', limits)  # a surrogate pair is fine
