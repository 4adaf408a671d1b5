"""How checkpoints are stored does not change what they read as: every checkpoint of a long list (deltas,
chunks) reads exactly, at the head, in history, forked and updated; rows written in the format before
migration 0013 (JSON blobs with base64, long versions, LangGraph's part of a document unpacked, the full
metadata in every row, documents that repeat their row's columns) read the same and their thread goes on in
its own version format."""

from __future__ import annotations

import hashlib
import operator
import re
import uuid
from typing import Annotated, Any, TypedDict

import asyncpg
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph

from engine.core import codec
from engine.core.saver import FULL_EVERY, NULLS, PACKED, ROW_COLUMNS, lg_of
from engine.durable import blobs
from engine.durable.db import connect
from tests.integration.engine_support import Engine, engine

LEGACY_VERSION = re.compile(r"[0-9]{32}\.[0-9a-f]{16}")


class Log(TypedDict):
    items: Annotated[list[str], operator.add]
    last: str


def log_graph() -> Any:
    def add(s: Log) -> dict[str, Any]:
        return {"items": [f"item {len(s['items'])}"], "last": f"after {len(s['items'])}"}

    g = StateGraph(Log)
    g.add_node("add", add)
    g.add_edge(START, "add")
    return g.compile()


def chat_graph() -> Any:
    def reply(s: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"reply {len(s['messages'])}", id=f"ai-{len(s['messages'])}")]}

    g = StateGraph(MessagesState)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile()


GRAPHS = {"log": log_graph(), "chat": chat_graph()}


async def _history(e: Engine, tid: uuid.UUID) -> list[dict[str, Any]]:
    blobs.CACHE.clear()  # read from the rows, not from what this process remembers
    return await e.state.history(tid, limit=1000)


async def test_every_checkpoint_of_a_long_list_reads_exactly(database_url: str) -> None:
    turns = FULL_EVERY + 8  # each turn appends twice (input, node): deltas, chunks and deltas over chunks
    async with engine(database_url, GRAPHS) as e:
        tid = await e.new_thread()
        for t in range(turns):
            await e.run("log", tid, input={"items": [f"input {t}"]})
        history = await _history(e, tid)
        assert len(history) == 3 * turns
        async with e.pool.acquire() as conn:  # stored without what the row's columns say, LangGraph's part packed
            for row in await conn.fetch("SELECT checkpoint, metadata FROM checkpoints WHERE thread_id = $1", tid):
                assert PACKED in row["checkpoint"] and not set(ROW_COLUMNS) & set(row["checkpoint"])
                assert not {"step", "thread_id", "run_id", "parents"} & set(row["metadata"])
            # a branch's trigger (None) is listed in its document, not a row
            assert await conn.fetchval("SELECT count(*) FROM checkpoint_blobs WHERE thread_id = $1 "
                                       "AND channel LIKE 'branch:%'", tid) == 0
        for snap in history:  # the list a checkpoint shows is its step's: rebuilt from its own rows
            items = snap["values"].get("items", [])
            assert items == [x for t in range(len(items) // 2 + 1)
                             for x in (f"input {t}", f"item {2 * t + 1}")][:len(items)]
        # time travel: a run from a checkpoint in the middle forks; the original thread's rows are intact
        middle = next(s for s in history if len(s["values"].get("items", [])) == 2 * 10)
        fork = await e.run("log", tid, input={"items": ["fork"]}, checkpoint_id=uuid.UUID(middle["checkpoint_id"]))
        assert fork["status"] == "success"
        blobs.CACHE.clear()
        head = await e.state.get(tid)
        assert head["values"]["items"] == middle["values"]["items"] + ["fork", "item 21"]
        await e.state.update(tid, {"items": ["updated"]}, as_node="add",
                             checkpoint_id=uuid.UUID(history[0]["checkpoint_id"]))
        blobs.CACHE.clear()
        assert (await e.state.get(tid))["values"]["items"] == history[0]["values"]["items"] + ["updated"]
        now = await _history(e, tid)  # the checkpoints from before read as they did
        assert [s for s in now if s["checkpoint_id"] in {h["checkpoint_id"] for h in history}] == history
        # metadata filters see the keys rebuilt from the row's columns as well as the stored ones
        for filt in ({"source": "input"}, {"step": 5}, {"thread_id": str(tid)}, {"run_id": fork["run_id"]},
                     {"source": "update", "parents": {}}):
            assert await e.state.history(tid, limit=1000, metadata=filt) == [
                s for s in now if s["metadata"].items() >= filt.items()], filt


def _legacy_version(version: str) -> str:
    if LEGACY_VERSION.fullmatch(version):
        return version
    counter = int(version[1:1 + ord(version[0]) - ord("a") + 1], 16)
    return f"{counter:032}.{hashlib.sha256(version.encode()).hexdigest()[:16]}"


def _legacy_lg(lg: dict[str, Any]) -> dict[str, Any]:
    return {**lg, "channel_versions": {c: _legacy_version(v) for c, v in lg["channel_versions"].items()},
            "versions_seen": {n: {c: _legacy_version(v) for c, v in seen.items()}
                              for n, seen in lg["versions_seen"].items()}}


async def _to_legacy(conn: asyncpg.Connection, tid: uuid.UUID, graph_id: str) -> None:
    """Rewrite a thread's rows as the code before migration 0013 wrote them."""
    for row in await conn.fetch("SELECT channel, version, base, data FROM checkpoint_blobs WHERE thread_id = $1",
                                tid):
        stored = codec.unpack(row["data"])
        value = ({"items": codec.encode_items(stored["items"])} if "items" in stored
                 else {"value": codec.encode(stored["value"])})
        await conn.execute(
            "UPDATE checkpoint_blobs SET version = $3, base = $4, value = $5, data = NULL "
            "WHERE thread_id = $1 AND channel = $2 AND version = $6",
            tid, row["channel"], _legacy_version(row["version"]),
            _legacy_version(row["base"]) if row["base"] else None, value, row["version"])
    for row in await conn.fetch("SELECT * FROM checkpoints WHERE thread_id = $1", tid):
        doc = {"id": str(row["checkpoint_id"]), "step": row["step"], "ns": row["checkpoint_ns"],
               "parent_id": str(row["parent_checkpoint_id"]) if row["parent_checkpoint_id"] else None,
               **row["checkpoint"]}
        lg = _legacy_lg(lg_of(doc))
        doc.pop(PACKED)
        doc["lg"] = lg
        doc["chunks"] = {c: [_legacy_version(v), n] for c, (v, n) in doc["chunks"].items()}
        for ch in doc.pop(NULLS, []):  # None values had rows of their own
            await conn.execute(
                "INSERT INTO checkpoint_blobs (thread_id, channel, version, value) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT DO NOTHING", tid, ch, lg["channel_versions"][ch], {"value": None})
        doc["metadata"] = {"step": doc["step"], "source": doc["source"], "parents": {}}
        meta = {"step": row["step"], "source": doc["source"], "parents": {}, "thread_id": str(tid),
                "graph_id": graph_id, **row["metadata"]}
        if row["run_id"] is not None:
            meta["run_id"] = str(row["run_id"])
        await conn.execute("UPDATE checkpoints SET checkpoint = $2, metadata = $3 WHERE checkpoint_id = $1",
                           row["checkpoint_id"], doc, meta)


async def test_rows_written_before_migration_0013_read_the_same(database_url: str) -> None:
    async with engine(database_url, GRAPHS) as e:
        tid = await e.new_thread()
        for t in range(FULL_EVERY // 2 + 3):
            await e.run("chat", tid, input={"messages": [{"type": "human", "content": f"turn {t}", "id": f"h-{t}"}]})
        before = await _history(e, tid)
        head_before = await e.state.get(tid)
        conn = await connect(database_url)
        try:
            await _to_legacy(conn, tid, "chat")
            assert await conn.fetchval(
                "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = $1 AND data IS NOT NULL", tid) == 0
            raw = await conn.fetchrow("SELECT metadata, checkpoint FROM checkpoints WHERE thread_id = $1 LIMIT 1", tid)
            assert "thread_id" in raw["metadata"] and "step" in raw["metadata"]
            assert "lg" in raw["checkpoint"] and "id" in raw["checkpoint"] and PACKED not in raw["checkpoint"]
            assert await conn.fetchval("SELECT count(*) FROM checkpoint_blobs WHERE thread_id = $1 AND value = "
                                       "'{\"value\": null}'", tid) > 0
            assert await _history(e, tid) == before
            assert await e.state.get(tid) == head_before
            assert len(await e.state.history(tid, metadata={"step": before[0]["metadata"]["step"]})) == 1

            # the thread goes on: its new versions keep the long form (never compared with the short one)
            for t in range(FULL_EVERY // 2):
                await e.run("chat", tid, input={"messages": [{"type": "human", "content": f"more {t}"}]})
            versions = [r["version"] for r in await conn.fetch(
                "SELECT version FROM checkpoint_blobs WHERE thread_id = $1 AND data IS NOT NULL", tid)]
            assert versions and all(LEGACY_VERSION.fullmatch(v) for v in versions)
            after = await _history(e, tid)
            assert after[len(after) - len(before):] == before
            messages = after[0]["values"]["messages"]
            assert len(messages) == 2 * (FULL_EVERY // 2 + 3 + FULL_EVERY // 2)
            assert [m["content"] for m in messages[-2:]] == [f"more {FULL_EVERY // 2 - 1}",
                                                              f"reply {len(messages) - 1}"]
            # a new thread starts with the short form
            other = await e.new_thread()
            await e.run("chat", other, input={"messages": [{"type": "human", "content": "hi"}]})
            short = [r["version"] for r in await conn.fetch(
                "SELECT version FROM checkpoint_blobs WHERE thread_id = $1", other)]
            assert short and not any(LEGACY_VERSION.fullmatch(v) for v in short) and max(map(len, short)) < 16
        finally:
            await conn.close()
