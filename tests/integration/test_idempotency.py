"""`Idempotency-Key` on the creating POSTs, through the SDK's per-call headers (issue 16): a repeat gets
the first request's resource and creates nothing, the same key with another body is 422, keys are
per request path, expire after the retention window and are swept by housekeeping."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from engine.durable import idempotency
from engine.durable.db import create_pool
from tests.integration import graphs as G
from tests.integration.api_support import live

GRAPHS = {"hitl": G.hitl(), "linear": G.linear(2)}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _count(url: str, sql: str, *args: Any) -> int:
    pool = await create_pool(url)
    try:
        return int(await pool.fetchval(sql, *args))
    finally:
        await pool.close()


async def test_runs_create_wait_stream_batch_are_idempotent(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        h = key()
        first = await client.runs.create(tid, "linear", input={"n": 0, "trail": []}, headers=h)
        again = await client.runs.create(tid, "linear", input={"n": 0, "trail": []}, headers=h)
        assert again["run_id"] == first["run_id"]
        with pytest.raises(httpx.HTTPStatusError) as err:
            await client.runs.create(tid, "linear", input={"n": 5, "trail": []}, headers=h)
        assert err.value.response.status_code == 422
        assert err.value.response.json()["code"] == "invalid_input"
        await client.runs.join(tid, first["run_id"])
        assert len(await client.runs.list(tid)) == 1

        # wait: the repeat waits for (or reads) the same run's result
        h = key()
        out1, out2 = await asyncio.gather(
            client.runs.wait(None, "linear", input={"n": 1, "trail": []}, headers=h),
            client.runs.wait(None, "linear", input={"n": 1, "trail": []}, headers=h),
        )
        assert out1 == out2 == {"n": 3, "trail": ["s0", "s1"]}

        # stream: the repeat streams the first request's run from its start
        h = key()
        streams = []
        for _ in range(2):
            parts = [p async for p in client.runs.stream(tid, "linear", input={"n": 0, "trail": []}, headers=h,
                                                         stream_mode="values")]
            streams.append(parts)
        run_ids = {p.data["run_id"] for parts in streams for p in parts if p.event == "metadata"}
        assert len(run_ids) == 1
        assert [p.data for p in streams[0] if p.event == "values"] == [p.data for p in streams[1]
                                                                      if p.event == "values"]
        assert len(await client.runs.list(tid)) == 2

        # batch: all of them or none, once
        h = key()
        payload = [{"assistant_id": "linear", "input": {"n": i, "trail": []}} for i in range(3)]
        b1 = await client.runs.create_batch(payload, headers=h)  # type: ignore[arg-type]
        b2 = await client.runs.create_batch(payload, headers=h)  # type: ignore[arg-type]
        assert [r["run_id"] for r in b1] == [r["run_id"] for r in b2]
        created = await _count(database_url, "SELECT count(*) FROM runs WHERE run_id = ANY($1::uuid[])",
                               [uuid.UUID(r["run_id"]) for r in b1])
        assert created == 3


async def test_threads_assistants_crons_are_idempotent(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        h = key()
        t1 = await client.threads.create(metadata={"a": 1}, headers=h)
        t2 = await client.threads.create(metadata={"a": 1}, headers=h)
        assert t1["thread_id"] == t2["thread_id"]
        with pytest.raises(httpx.HTTPStatusError) as err:
            await client.threads.create(metadata={"a": 2}, headers=h)
        assert err.value.response.status_code == 422
        # the same key on another route is another request
        with pytest.raises(httpx.HTTPStatusError) as err:
            await client.assistants.create("linear", headers=h)
        assert err.value.response.status_code == 422

        h = key()
        a1 = await client.assistants.create("linear", name="x", headers=h)
        a2 = await client.assistants.create("linear", name="x", headers=h)
        assert a1["assistant_id"] == a2["assistant_id"]

        h = key()
        c1 = await client.crons.create("linear", schedule="0 0 1 1 *", input={"n": 0, "trail": []}, headers=h)
        c2 = await client.crons.create("linear", schedule="0 0 1 1 *", input={"n": 0, "trail": []}, headers=h)
        assert c1["cron_id"] == c2["cron_id"]
        assert len(await client.crons.search()) == 1


async def test_concurrent_repeats_create_one_run_and_keys_expire(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        h = key()
        runs = await asyncio.gather(*(
            client.runs.create(tid, "hitl", input={"amount": 1}, headers=h, multitask_strategy="reject")
            for _ in range(6)
        ))
        assert len({r["run_id"] for r in runs}) == 1  # no 409 either: the repeats are the same request
        await client.runs.join(tid, runs[0]["run_id"])
        assert len(await client.runs.list(tid)) == 1

        # past the retention window the key is forgotten: swept by housekeeping, and ignored before that
        pool = await create_pool(database_url)
        try:
            await pool.execute("UPDATE idempotency_keys SET created_at = created_at - interval '2 days'")
            assert await idempotency.delete_expired(pool, idempotency.DEFAULT_RETENTION_SECONDS) >= 1
            assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0
        finally:
            await pool.close()
        h = key()
        t1 = await client.threads.create(headers=h)
        pool = await create_pool(database_url)
        try:
            await pool.execute("UPDATE idempotency_keys SET created_at = created_at - interval '2 days'")
        finally:
            await pool.close()
        t2 = await client.threads.create(headers=h)
        assert t1["thread_id"] != t2["thread_id"]


async def test_bad_key_is_422(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post("/threads", json={}, headers={"Idempotency-Key": "x" * 300})
            assert r.status_code == 422 and r.json()["code"] == "invalid_input"
