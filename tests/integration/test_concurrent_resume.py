"""Concurrent resumes of one interrupt (issue 16): two people answer the same approval at once.

Many threads wait at an interrupt; each gets several resumes at the same moment through the SDK, on a
real server with workers completing steps meanwhile. Exactly one resume per interrupt applies (the node
after the interrupt commits once); with `reject` the others are 409, with `enqueue` they queue and
find nothing left to answer (or are 409 if the winner's run has already ended); never a 5xx (deadlocks
and other transient failures are retried inside).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from langgraph_sdk import get_client

from tests.integration import graphs as G
from tests.integration.api_support import live

THREADS = 40
RESUMES = 3


async def _outcome(call: Any) -> int:
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


async def _race(database_url: str, strategy: str, threads: int) -> tuple[list[list[int]], Any, list[str]]:
    async with live(database_url, {"hitl": G.hitl()}, workers=2) as (url, e):
        client = get_client(url=url, api_key=None)
        tids = [t["thread_id"] for t in await asyncio.gather(*(client.threads.create() for _ in range(threads)))]
        firsts = await asyncio.gather(*(client.runs.wait(t, "hitl", input={"amount": 1}) for t in tids))
        assert all("__interrupt__" in f for f in firsts)

        async def answer(tid: str) -> list[int]:
            return list(await asyncio.gather(*(
                _outcome(client.runs.create(tid, "hitl", command={"resume": True}, multitask_strategy=strategy))
                for _ in range(RESUMES)
            )))

        codes = list(await asyncio.gather(*(answer(t) for t in tids)))
        for tid in tids:
            runs = await client.runs.list(tid, limit=100)
            try:
                await asyncio.wait_for(asyncio.gather(*(client.runs.join(tid, r["run_id"]) for r in runs)), 60)
            except TimeoutError:
                raise AssertionError(f"runs of {tid} never ended: {await client.runs.list(tid)}") from None
        states = await asyncio.gather(*(client.threads.get_state(t) for t in tids))
        async with e.pool.acquire() as conn:
            published = await conn.fetch(
                "SELECT thread_id::text AS tid, count(*) AS n FROM tasks WHERE name = 'publish' AND status = "
                "'success' GROUP BY thread_id")
        counts = {r["tid"]: r["n"] for r in published}
        return codes, states, [str(counts.get(t, 0)) for t in tids]


async def test_concurrent_resumes_reject(database_url: str) -> None:
    codes, states, published = await _race(database_url, "reject", THREADS)
    flat = [c for per in codes for c in per]
    assert not [c for c in flat if c >= 500], codes
    assert all(sorted(per) == [200] + [409] * (RESUMES - 1) for per in codes), codes
    assert published == ["1"] * THREADS
    assert all(s["values"]["trail"] == ["plan", "review", "published"] for s in states)


async def test_concurrent_resumes_enqueue(database_url: str) -> None:
    codes, states, published = await _race(database_url, "enqueue", 12)
    # queued behind the winner (200), or, arriving once the winner's run ended, nothing left to answer (409)
    assert all(set(per) <= {200, 409} and 200 in per for per in codes), codes
    assert published == ["1"] * 12
    assert all(s["values"]["trail"] == ["plan", "review", "published"] for s in states)
