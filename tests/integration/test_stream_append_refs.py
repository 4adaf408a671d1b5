"""A checkpoint event refers to the task writes it appended (`changes.append_writes`) instead of repeating
them, and the streams rebuild them from the `task_result` events before it (api/sse.py): what a client
receives is byte for byte what it received when the event carried the items, in every stream mode, live
(relay + NATS), resumed mid-run with Last-Event-ID, joined, and on the thread stream."""

from __future__ import annotations

import itertools
import operator
import re
import types
import uuid
from typing import Annotated, Any, TypedDict

import asyncpg
import httpx
import orjson
import pytest
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph.message import add_messages

from api.jsonb_form import jsonb_form
from engine import END, START, Send, StateGraph, interrupt
from engine.durable import lifecycle
from tests.integration.api_support import live_stack

MODES = ["values", "updates", "checkpoints", "debug", "tasks", "messages-tuple", "events"]


class Talk(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    notes: Annotated[list[Any], operator.add]
    answer: str


def _talk() -> Any:
    def start(state: Talk) -> dict[str, Any]:
        return {"notes": ["start", 1, 2.5, 1e16, True, None]}

    def a(state: Talk) -> dict[str, Any]:
        msg = AIMessage("from a", tool_calls=[{"name": "look", "args": {"q": "x", "n": 1.5, "big": 1e17},
                                                "id": "call-1"}],
                        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
                        response_metadata={"zeta": 1, "alpha": 0.1, "huge": 1e300, "ünï": "çödé"})
        return {"messages": [msg, AIMessage("a again", id="given-id")], "notes": ["a1", "a2"]}

    def b(state: Talk) -> dict[str, Any]:
        return {"messages": AIMessage("from b"), "notes": ["b"]}  # one message, not a list

    def fan(arg: dict[str, Any]) -> dict[str, Any]:
        return {"messages": [AIMessage(f"fan {arg['i']}")], "notes": [arg["i"]]}

    def ask(state: Talk) -> dict[str, Any]:
        return {"answer": interrupt("ok?"), "messages": [AIMessage("asked")]}

    def quiet(state: Talk) -> dict[str, Any]:
        return {"messages": [AIMessage("quiet says")], "notes": ["q-note"]}

    def coerced(state: Talk) -> dict[str, Any]:
        # a dict that add_messages turns into a message: not the written object, so carried as items
        return {"messages": [{"type": "ai", "content": "coerced"}]}

    g = StateGraph(Talk)
    for name, fn in (("start", start), ("a", a), ("b", b), ("fan", fan), ("ask", ask), ("quiet", quiet),
                     ("coerced", coerced)):
        g.add_node(name, fn)
    g.add_edge(START, "start")
    g.add_edge("start", "a")
    g.add_edge("start", "b")
    g.add_conditional_edges("a", lambda s: [Send("fan", {"i": i}) for i in range(3)], ["fan"])
    g.add_edge("fan", "ask")
    g.add_edge("fan", "quiet")
    g.add_edge(["ask", "quiet"], "coerced")
    g.add_edge("coerced", END)
    return g.compile()


GRAPHS = {"talk": _talk()}
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*\+00:00")


def _same_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ids add_messages gives messages, the same in every run (a counter instead of uuid4)."""
    counter = itertools.count()
    monkeypatch.setattr("langgraph.graph.message.uuid", types.SimpleNamespace(uuid4=lambda: f"gen-{next(counter)}"))


def _frames(body: bytes) -> list[bytes]:
    return [f for f in body.split(b"\n\n") if f and not f.startswith(b":")]


def _masked(frames: list[bytes]) -> list[bytes]:
    """Frames with what differs between two threads' runs masked (run, thread, checkpoint, task and
    interrupt ids; timestamps)."""
    return [_TIME.sub(b"<time>", _UUID.sub(b"<id>", f)) for f in frames]


def _id(frame: bytes) -> str:
    return next(line[4:].decode() for line in frame.split(b"\n") if line.startswith(b"id: "))


async def _talk_runs(http: httpx.AsyncClient, modes: list[str]) -> tuple[str, list[str], list[list[bytes]]]:
    """Two runs on a new thread (to the interrupt, then the resume), streamed; (thread, run ids, each run's
    frames)."""
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    rids, frames = [], []
    for body in ({"input": {"messages": [], "notes": []}}, {"command": {"resume": "yes"}}):
        async with http.stream("POST", f"/threads/{tid}/runs/stream",
                               json={"assistant_id": "talk", "stream_mode": modes, **body}) as r:
            rids.append(r.headers["content-location"].rsplit("/", 1)[-1])
            frames.append(_frames(await r.aread()))
    return tid, rids, frames


def _timeless(frames: list[bytes]) -> list[bytes]:
    """(a `debug` frame's timestamp is the time it was sent when live, the event's when read back)"""
    return [_TIME.sub(b"<time>", f) for f in frames]


async def _events(database_url: str, rid: str) -> list[tuple[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT event, data::text AS data FROM events WHERE run_id = $1 ORDER BY seq",
                                uuid.UUID(rid))
    finally:
        await conn.close()
    return [(r["event"], r["data"]) for r in rows]


async def test_streams_rebuild_appended_writes_byte_for_byte(database_url: str, nats_url: str, nats_prefix: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS, concurrency=1) as st, \
            httpx.AsyncClient(base_url=st.url, timeout=60) as http:
        _same_ids(monkeypatch)
        tid, rids, new = await _talk_runs(http, MODES)
        events = [e for rid in rids for e in await _events(database_url, rid)]
        refs = [d for e, d in events if e == "checkpoint" and "append_writes" in d]
        # the fan-in of a and b, the three Sends, the resumed step (the kept `quiet` with the answered `ask`)
        assert len(refs) >= 4, events
        assert any('"tasks": [' in d and d.count(",") > 3 for d in refs)
        carried = [d for e, d in events if e == "checkpoint"]
        assert not any(text in d for d in carried for text in ("from a", "a again", "fan 1", "quiet says", "q-note"))
        assert any('"content": "coerced"' in d for d in carried)  # a coerced message: carried as it is

        # the same runs with checkpoint events that carry the items, as before
        monkeypatch.setattr(lifecycle, "appended_writes", lambda *args: None)
        _same_ids(monkeypatch)
        _, rids_old, old = await _talk_runs(http, MODES)
        old_events = [e for rid in rids_old for e in await _events(database_url, rid)]
        assert not any("append_writes" in d for e, d in old_events)
        assert [_masked(f) for f in new] == [_masked(f) for f in old]
        monkeypatch.undo()

        for rid, live in zip(rids, new, strict=True):
            # joined again from the start: what the live stream sent
            async with http.stream("GET", f"/threads/{tid}/runs/{rid}/stream", params={"stream_mode": MODES},
                                   headers={"Last-Event-ID": "0"}) as r:
                full = _frames(await r.aread())
            assert _timeless(full) == _timeless(live)
            # resumed after every frame (mid-event included): the rest, exactly
            for i in range(len(full) - 1):
                async with http.stream("GET", f"/threads/{tid}/runs/{rid}/stream", params={"stream_mode": MODES},
                                       headers={"Last-Event-ID": _id(full[i])}) as r:
                    assert _frames(await r.aread()) == full[i + 1:], i

        # the thread stream (every run's frames) from its start, then resumed after each frame of the second run
        async def thread_frames(last_event_id: str) -> list[bytes]:
            got: list[bytes] = []
            buf = b""
            async with http.stream("GET", f"/threads/{tid}/stream", params={"stream_mode": "run_modes"},
                                   headers={"Last-Event-ID": last_event_id}) as r:
                async for chunk in r.aiter_bytes():  # (a frame may come in several chunks)
                    complete, _, buf = (buf + chunk).rpartition(b"\n\n")
                    got.extend(_frames(complete))
                    if got and b"run_done" in got[-1] and rids[1].encode() in got[-1]:
                        return got
            raise AssertionError("the thread stream ended early")

        everything = await thread_frames("0")
        assert _timeless([f.split(b"\nid: ")[0] for f in everything if b"run_done" not in f]) == \
            _timeless([f.split(b"\nid: ")[0] for run in new for f in run])
        first_of_second = len(new[0]) + 1  # (the first run's `run_done` frame)
        for i in range(first_of_second, len(everything) - 1, 3):
            assert await thread_frames(_id(everything[i])) == everything[i + 1:], i


async def test_jsonb_form_is_what_jsonb_gives_back(database_url: str) -> None:
    values = [
        {"zeta": 1, "a": {"bb": [1e16, 1e17, -1e18, 1.5e300, 1e-7, 0.1, 2.0, 1e15, 1.2345e19, -9.3e18]}, "ab": None},
        {"ünï": "çödé", "é": 1, "z": "\u2028", "": [], "yy": {"b": True, "a": False, "ccc": "x"}},
        [{"type": "ai", "id": "x", "content": "hi", "tool_calls": [{"name": "t", "args": {"q": 1}, "id": "c"}]}],
    ]
    conn = await asyncpg.connect(database_url)
    try:
        for value in values:
            text = await conn.fetchval("SELECT $1::text::jsonb::text", orjson.dumps(value).decode())
            assert orjson.dumps(jsonb_form(value)) == orjson.dumps(orjson.loads(text)), value
    finally:
        await conn.close()
