"""Write routes retry transient database failures inside the server (api/retry.py): a real Postgres
deadlock error (SQLSTATE 40P01) raised by the route's statement is retried before anything is answered;
one that persists ends as 503 `unavailable`, without the internal marker header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import get, post
from litestar.params import FromPath, JSONBody

from api.app import Conn
from tests.integration.server import serve_api

DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40P01'; END $$"
CALLS: dict[str, int] = {}


@post("/test/flaky/{fails:int}", status_code=200)
async def flaky(fails: FromPath[int], conn: Conn, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    CALLS["flaky"] = CALLS.get("flaky", 0) + 1
    async with conn.transaction():
        await conn.execute("CREATE TABLE IF NOT EXISTS retry_probe (n int)")
        await conn.execute("INSERT INTO retry_probe VALUES ($1)", CALLS["flaky"])
        if CALLS["flaky"] <= fails:
            await conn.execute(DEADLOCK)
    return {"calls": CALLS["flaky"], "echo": data, "rows": await conn.fetchval("SELECT count(*) FROM retry_probe")}


@get("/test/flaky-read")
async def flaky_read(conn: Conn) -> None:
    CALLS["read"] = CALLS.get("read", 0) + 1
    await conn.execute(DEADLOCK)


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    CALLS.clear()
    with serve_api(database_url, {}, extra_routers=[flaky, flaky_read]) as base:
        yield base


def test_transient_failure_is_retried_with_the_same_body(url: str) -> None:
    r = httpx.post(f"{url}/test/flaky/2", json={"a": [1, 2]})
    assert r.status_code == 200, r.text
    # two attempts rolled back (nothing of them committed), the third answered with the body it was sent
    assert r.json() == {"calls": 3, "echo": {"a": [1, 2]}, "rows": 1}


def test_persistent_failure_is_503_without_the_marker(url: str) -> None:
    r = httpx.post(f"{url}/test/flaky/100", json={})
    assert r.status_code == 503
    assert r.json()["code"] == "unavailable"
    assert "x-duragraph-transient" not in r.headers
    assert CALLS["flaky"] == 6  # api.retry.ATTEMPTS


def test_reads_are_not_retried(url: str) -> None:
    r = httpx.get(f"{url}/test/flaky-read")
    assert r.status_code == 503 and CALLS["read"] == 1
