"""The named-query loader: `-- name:` blocks, leading comments kept out of what the server gets."""

from __future__ import annotations

import pytest

import sql


def test_named_blocks_without_their_leading_comments() -> None:
    text = """-- a file header

-- name: first
-- what it does, for readers
SELECT 1;

-- name: second
SELECT 2
-- a trailing note stays with its query
"""
    queries = sql.parse_queries(text)
    assert queries == {"first": "SELECT 1", "second": "SELECT 2\n-- a trailing note stays with its query"}


def test_a_name_defined_twice_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="defined twice"):
        sql.parse_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_every_query_file_loads() -> None:
    assert sql.query_files()
    for filename in sql.query_files():
        assert all(q and not q.startswith("--") for q in sql.queries(filename).values()), filename
