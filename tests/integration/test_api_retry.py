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


# -- a connection lost mid-request: retried only when nothing can have committed ---------------------------

KILL = "SELECT pg_terminate_backend(pg_backend_pid())"


@post("/test/lost/{where:str}", status_code=200)
async def lost(where: FromPath[str], conn: Conn) -> dict[str, Any]:
    CALLS["lost"] = CALLS.get("lost", 0) + 1
    first = CALLS["lost"] == 1
    await conn.execute("CREATE TABLE IF NOT EXISTS lost_probe (n int)")
    if where == "autocommit":  # a statement outside a block commits by itself: this one did
        await conn.execute("INSERT INTO lost_probe VALUES ($1)", CALLS["lost"])
        if first:
            await conn.execute(KILL)
    else:  # "block": the block dies with the connection, nothing of it commits
        async with conn.transaction():
            await conn.execute("INSERT INTO lost_probe VALUES ($1)", CALLS["lost"])
            if first:
                await conn.execute(KILL)
    return {"calls": CALLS["lost"], "rows": await conn.fetchval("SELECT count(*) FROM lost_probe")}


@pytest.fixture
def lost_url(database_url: str) -> Iterator[str]:
    CALLS.clear()
    with serve_api(database_url, {}, extra_routers=[lost]) as base:
        yield base


def test_connection_lost_inside_a_block_is_retried(lost_url: str) -> None:
    r = httpx.post(f"{lost_url}/test/lost/block")
    assert r.status_code == 200, r.text
    assert r.json() == {"calls": 2, "rows": 1}  # the first attempt's insert died with its connection


def test_connection_lost_after_a_commit_is_not_retried_without_a_key(lost_url: str) -> None:
    r = httpx.post(f"{lost_url}/test/lost/autocommit")
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "unavailable" and "unknown" in r.json()["detail"]
    assert "x-duragraph-transient" not in r.headers
    assert CALLS["lost"] == 1  # not run again: its insert had committed


def test_connection_lost_after_a_commit_is_retried_under_an_idempotency_key(lost_url: str) -> None:
    r = httpx.post(f"{lost_url}/test/lost/autocommit", headers={"Idempotency-Key": "k1"})
    assert r.status_code == 200, r.text
    assert r.json()["calls"] == 2


# -- the real thing: a thread's creation whose COMMIT the database cut off ---------------------------------

CUT_COMMIT = """
CREATE SEQUENCE IF NOT EXISTS cut_commit_once;
CREATE OR REPLACE FUNCTION cut_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('cut_commit_once') = 1 THEN  -- (a sequence is not rolled back: only the first COMMIT is cut)
        PERFORM pg_terminate_backend(pg_backend_pid());
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS cut_commit ON threads;
CREATE CONSTRAINT TRIGGER cut_commit AFTER INSERT ON threads DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.metadata ? 'cut') EXECUTE FUNCTION cut_commit();
"""


@pytest.fixture
def cut_url(database_url: str) -> Iterator[str]:
    import asyncio

    import asyncpg

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(CUT_COMMIT))
    try:
        with serve_api(database_url, {}) as base:
            yield base
    finally:
        asyncio.run(sql("DROP TRIGGER IF EXISTS cut_commit ON threads; DROP SEQUENCE IF EXISTS cut_commit_once"))


def _threads(url: str, tag: str) -> int:
    r = httpx.post(f"{url}/threads/search", json={"metadata": {"cut": tag}, "limit": 100})
    assert r.status_code == 200, r.text
    return len(r.json())


def test_create_whose_commit_was_cut_says_the_outcome_is_unknown(cut_url: str) -> None:
    r = httpx.post(f"{cut_url}/threads", json={"metadata": {"cut": "nokey"}})
    assert r.status_code == 503 and "unknown" in r.json()["detail"], r.text
    assert _threads(cut_url, "nokey") == 0  # (here the cut COMMIT did not happen; the server cannot know)


def test_create_whose_commit_was_cut_is_retried_under_its_key(cut_url: str) -> None:
    r = httpx.post(f"{cut_url}/threads", json={"metadata": {"cut": "key"}}, headers={"Idempotency-Key": "t-1"})
    assert r.status_code == 200, r.text
    assert _threads(cut_url, "key") == 1
