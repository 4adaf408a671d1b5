"""Crons over HTTP with the official langgraph-sdk client, and the exactly-once claim of due crons."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import BadRequestError, NotFoundError, UnprocessableEntityError

from engine import END, START, StateGraph
from engine.durable import assistants, crons
from engine.durable.db import connect


class State(TypedDict):
    n: int


def _graph() -> object:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g.compile()


GRAPHS = {"agent": _graph()}
AGENT = str(assistants.system_assistant_id("agent"))


@pytest.fixture
def api_graphs() -> dict[str, object]:
    return GRAPHS


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_create_for_thread_and_stateless(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    before = datetime.now(UTC)
    c = await client.crons.create_for_thread(
        thread["thread_id"], "agent", schedule="*/5 * * * *", input={"n": 1}, metadata={"m": 1},
        config={"tags": ["x"]}, interrupt_before=["a"], webhook="https://example.com/hook",
        multitask_strategy="enqueue", stream_mode=["values", "updates"], durability="sync",
    )
    assert c["thread_id"] == thread["thread_id"] and c["assistant_id"] == AGENT
    assert c["schedule"] == "*/5 * * * *" and c["enabled"] is True and c["on_run_completed"] is None
    assert c["timezone"] == "UTC" and c["end_time"] is None and c["metadata"] == {"m": 1}
    assert c["payload"]["input"] == {"n": 1} and c["payload"]["interrupt_before"] == ["a"]
    assert c["payload"]["multitask_strategy"] == "enqueue" and c["payload"]["durability"] == "sync"
    assert c["payload"]["stream_mode"] == ["values", "updates"] and c["payload"]["webhook"].startswith("https://")
    nxt = _ts(c["next_run_date"])
    assert before < nxt <= before + timedelta(minutes=5) and nxt.minute % 5 == 0 and nxt.second == 0
    assert uuid.UUID(c["cron_id"]).version == 7

    s = await client.crons.create(AGENT, schedule="0 9 * * *", timezone="America/New_York",
                                  end_time=datetime(2100, 1, 1, tzinfo=UTC))
    assert s["thread_id"] is None and s["on_run_completed"] == "delete"
    local = _ts(s["next_run_date"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    assert _ts(s["end_time"]) == datetime(2100, 1, 1, tzinfo=UTC)
    keep = await client.crons.create("agent", schedule="@hourly", on_run_completed="keep", enabled=False)
    assert keep["on_run_completed"] == "keep" and keep["enabled"] is False

    async with httpx.AsyncClient(base_url=base_url_of(client)) as http:
        got = (await http.get(f"/runs/crons/{s['cron_id']}")).json()
        assert got == s


def base_url_of(client: LangGraphClient) -> str:
    return str(client.http.client.base_url)


async def test_create_errors(client: LangGraphClient) -> None:
    thread = await client.threads.create()
    with pytest.raises(UnprocessableEntityError, match="schedule"):
        await client.crons.create("agent", schedule="every tuesday")
    with pytest.raises(UnprocessableEntityError, match="timezone"):
        await client.crons.create("agent", schedule="* * * * *", timezone="Mars/Olympus")
    with pytest.raises(NotFoundError):
        await client.crons.create_for_thread(str(uuid.uuid4()), "agent", schedule="* * * * *")
    with pytest.raises(UnprocessableEntityError, match="Invalid thread ID"):
        await client.crons.create_for_thread("nope", "agent", schedule="* * * * *")
    with pytest.raises(NotFoundError):
        await client.crons.create_for_thread(thread["thread_id"], str(uuid.uuid4()), schedule="* * * * *")
    with pytest.raises(UnprocessableEntityError):
        await client.crons.create("no-such-graph", schedule="* * * * *")
    async with httpx.AsyncClient(base_url=base_url_of(client)) as http:
        r = await http.post("/runs/crons", json={"assistant_id": "agent"})
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
        r = await http.post("/runs/crons", json={"assistant_id": "agent", "schedule": "* * * * *",
                                                 "end_time": "not a date"})
        assert r.status_code == 422


async def test_update(client: LangGraphClient) -> None:
    c = await client.crons.create("agent", schedule="0 0 1 1 *", input={"n": 1}, metadata={"a": 1},
                                  end_time=datetime(2100, 1, 1, tzinfo=UTC))
    u = await client.crons.update(c["cron_id"], schedule="*/10 * * * *", input={"n": 2}, metadata={"b": 2})
    assert u["schedule"] == "*/10 * * * *" and u["payload"]["schedule"] == "*/10 * * * *"
    assert u["payload"]["input"] == {"n": 2} and u["metadata"] == {"a": 1, "b": 2}
    assert _ts(u["next_run_date"]) < _ts(c["next_run_date"]) and _ts(u["next_run_date"]).minute % 10 == 0
    assert u["end_time"] is not None

    kept = await client.crons.update(c["cron_id"], enabled=False)
    assert kept["enabled"] is False and kept["end_time"] is not None  # end_time not given: unchanged
    cleared = await client.crons.update(c["cron_id"], end_time=None)
    assert cleared["end_time"] is None
    tz = await client.crons.update(c["cron_id"], timezone="Asia/Tokyo", schedule="30 8 * * *", enabled=True)
    local = _ts(tz["next_run_date"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (8, 30) and tz["timezone"] == "Asia/Tokyo"

    with pytest.raises(BadRequestError):
        await client.crons.update(c["cron_id"])
    with pytest.raises(UnprocessableEntityError):
        await client.crons.update(c["cron_id"], schedule="61 * * * *")
    with pytest.raises(NotFoundError):
        await client.crons.update(str(uuid.uuid4()), enabled=True)


async def test_delete_search_count(client: LangGraphClient, base_url: str) -> None:
    t1 = await client.threads.create()
    t2 = await client.threads.create()
    other = await client.assistants.create("agent")
    made = [
        await client.crons.create_for_thread(t1["thread_id"], "agent", schedule="1 * * * *", metadata={"k": 1}),
        await client.crons.create_for_thread(t2["thread_id"], "agent", schedule="2 * * * *", metadata={"k": 2}),
        await client.crons.create(other["assistant_id"], schedule="3 * * * *", metadata={"k": 1}, enabled=False),
    ]
    found = await client.crons.search()
    assert [c["cron_id"] for c in found] == [c["cron_id"] for c in reversed(made)]  # created_at desc
    assert [c["cron_id"] for c in await client.crons.search(thread_id=t1["thread_id"])] == [made[0]["cron_id"]]
    assert len(await client.crons.search(assistant_id="agent")) == 2
    assert [c["cron_id"] for c in await client.crons.search(assistant_id=other["assistant_id"])] == \
        [made[2]["cron_id"]]
    assert len(await client.crons.search(enabled=True)) == 2
    assert len(await client.crons.search(metadata={"k": 1})) == 2
    # the order by next run date depends on the minute the test runs in: compare with the full sorted list
    everything = await client.crons.search(sort_by="next_run_date", sort_order="asc", limit=10)
    dates = [c["next_run_date"] for c in everything]
    assert dates == sorted(dates)
    asc = await client.crons.search(sort_by="next_run_date", sort_order="asc", limit=2, offset=1)
    assert [c["cron_id"] for c in asc] == [c["cron_id"] for c in everything[1:3]]
    slim = await client.crons.search(select=["cron_id", "schedule"], limit=1)
    assert set(slim[0]) == {"cron_id", "schedule"}

    assert await client.crons.count() == 3
    assert await client.crons.count(assistant_id="agent") == 2
    assert await client.crons.count(thread_id=t2["thread_id"]) == 1
    assert await client.crons.count(metadata={"k": 2}) == 1

    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/runs/crons/search", json={"limit": 2})
        assert r.headers["X-Pagination-Total"] == "3" and r.headers["X-Pagination-Next"] == "2"

    await client.crons.delete(made[0]["cron_id"])
    with pytest.raises(NotFoundError):
        await client.crons.delete(made[0]["cron_id"])
    await client.threads.delete(t2["thread_id"])  # a thread's crons go with it
    assert [c["cron_id"] for c in await client.crons.search()] == [made[2]["cron_id"]]


# -- claim_due: what the scheduler uses ---------------------------------------------------------


async def _make_due(database_url: str, schedules: list[str], *, due_at: datetime) -> list[uuid.UUID]:
    conn = await connect(database_url)
    try:
        await assistants.ensure_system_assistants(conn, ["agent"])
        ids = []
        for s in schedules:
            c = await crons.create(conn, assistant_id=assistants.system_assistant_id("agent"), schedule=s,
                                   now=due_at - timedelta(days=1))
            ids.append(c["cron_id"])
        await conn.execute("UPDATE crons SET next_run_date = $1", due_at)
        return ids
    finally:
        await conn.close()


async def test_claim_due_advances_and_catches_up_once(database_url: str) -> None:
    now = datetime(2030, 6, 1, 12, 0, 30, tzinfo=UTC)
    ids = await _make_due(database_url, ["* * * * *", "0 * * * *"], due_at=now - timedelta(hours=3))
    conn = await connect(database_url)
    try:
        claimed = await crons.claim_due(conn, now)
        assert {c["cron_id"] for c in claimed} == set(ids)
        by_schedule = {c["schedule"]: c for c in claimed}
        assert by_schedule["* * * * *"]["next_run_date"] == datetime(2030, 6, 1, 12, 1, tzinfo=UTC)
        assert by_schedule["0 * * * *"]["next_run_date"] == datetime(2030, 6, 1, 13, 0, tzinfo=UTC)
        assert all(c["due_at"] == now - timedelta(hours=3) for c in claimed)
        # three hours of missed minutes fire once; nothing more is due until the next time
        assert await crons.claim_due(conn, now) == []
        assert [c["schedule"] for c in await crons.claim_due(conn, now + timedelta(seconds=30))] == ["* * * * *"]

        # disabled crons and crons past their end_time are not claimed
        later = now + timedelta(hours=2)
        await conn.execute("UPDATE crons SET enabled = false WHERE schedule = '* * * * *'")
        await conn.execute("UPDATE crons SET end_time = $1 WHERE schedule = '0 * * * *'", now)
        assert await crons.claim_due(conn, later) == []
    finally:
        await conn.close()


async def test_claim_due_is_exactly_once_across_processes(database_url: str) -> None:
    now = datetime(2030, 6, 1, 12, 0, 30, tzinfo=UTC)
    ids = await _make_due(database_url, ["* * * * *"] * 40, due_at=now - timedelta(minutes=1))
    conns = [await connect(database_url) for _ in range(6)]
    try:
        async def claimer(conn: Any) -> list[uuid.UUID]:
            got: list[uuid.UUID] = []
            while True:
                batch = await crons.claim_due(conn, now, limit=3)
                if not batch:
                    return got
                got.extend(c["cron_id"] for c in batch)
                await asyncio.sleep(0)

        results = await asyncio.gather(*(claimer(c) for c in conns))
        flat = [cid for r in results for cid in r]
        assert sorted(flat) == sorted(ids)  # every cron fired, none twice
        assert sum(1 for r in results if r) > 1  # the work was actually shared
    finally:
        for c in conns:
            await c.close()


async def test_claim_due_rolls_back_with_the_callers_transaction(database_url: str) -> None:
    now = datetime(2030, 6, 1, 12, 0, 30, tzinfo=UTC)
    (cid,) = await _make_due(database_url, ["* * * * *"], due_at=now)
    conn = await connect(database_url)
    try:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert [c["cron_id"] for c in await crons.claim_due(conn, now)] == [cid]
                raise RuntimeError("creating the run failed")
        assert [c["cron_id"] for c in await crons.claim_due(conn, now)] == [cid]
    finally:
        await conn.close()
