"""SSE streaming through the official langgraph-sdk client against the real stack: API + workers +
relay + NATS JetStream + Postgres."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
from langgraph_sdk import get_client
from litestar import Litestar

from api.live import LiveHub
from tests.integration import graphs as G
from tests.integration import stream_graphs as SG
from tests.integration.api_support import live_stack
from tests.integration.relay_support import stream_messages
from tests.support import eventually

GRAPHS = {"linear": G.linear(3), "hitl": G.hitl(), "failing": G.failing(), "chat": SG.chat(),
          "ticker": SG.ticker(6, 0.15), "sub": G.with_subgraph()}


def parts(chunks: list[Any]) -> list[tuple[str, Any]]:
    return [(c.event, c.data) for c in chunks]


async def collect(stream: Any) -> list[Any]:
    return [c async for c in stream]


async def test_stream_values_and_updates(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        chunks = await collect(client.runs.stream(tid, "linear", input={"n": 0, "trail": []},
                                                  stream_mode=["values", "updates"]))
        got = parts(chunks)
        assert got[0][0] == "metadata" and set(got[0][1]) == {"run_id", "attempt"}
        assert got[1:] == [
            ("values", {"n": 0, "trail": []}),
            ("updates", {"s0": {"n": 1, "trail": ["s0"]}}), ("values", {"n": 1, "trail": ["s0"]}),
            ("updates", {"s1": {"n": 2, "trail": ["s1"]}}), ("values", {"n": 2, "trail": ["s0", "s1"]}),
            ("updates", {"s2": {"n": 3, "trail": ["s2"]}}), ("values", {"n": 3, "trail": ["s0", "s1", "s2"]}),
        ]
        ids = [int(c.id) for c in chunks]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        run_id = got[0][1]["run_id"]
        # the default mode is values; join after the end replays from an id
        replay = parts(await collect(client.runs.join_stream(tid, run_id, last_event_id=chunks[3].id,
                                                             stream_mode=["values", "updates"])))
        assert replay == got[4:]
        # a finished run joined without Last-Event-ID: an empty stream
        assert await collect(client.runs.join_stream(tid, run_id)) == []


async def test_stream_headers_and_stateless(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        async with httpx.AsyncClient(base_url=st.url) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            async with http.stream("POST", f"/threads/{tid}/runs/stream",
                                   json={"assistant_id": "linear", "input": {"n": 0, "trail": []}}) as r:
                body = (await r.aread()).decode()
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
            rid = r.headers["content-location"].rsplit("/", 1)[1]
            assert r.headers["content-location"] == f"/threads/{tid}/runs/{rid}"
            assert r.headers["location"] == f"/threads/{tid}/runs/{rid}/stream"
            frames = [f for f in body.split("\n\n") if f]
            assert frames[0].startswith("event: metadata\ndata: {") and frames[0].endswith("\nid: 1")
            assert all("\nid: " in f for f in frames)
            async with http.stream("POST", "/runs/stream", json={"assistant_id": "linear",
                                                                 "input": {"n": 5, "trail": []}}) as r:
                body = (await r.aread()).decode()
            rid = r.headers["content-location"].rsplit("/", 1)[1]
            assert r.headers["content-location"] == f"/runs/{rid}"
            assert body.count("event: values") == 4
            # bad ids, bad modes
            assert (await http.get(f"/threads/{tid}/runs/{rid}/stream", headers={"Last-Event-ID": "x"})
                    ).status_code in (404, 422)
            r2 = await http.post(f"/threads/{tid}/runs/stream", json={"assistant_id": "linear", "input": {},
                                                                     "stream_mode": "nope"})
            assert r2.status_code == 422


ALL_MODES = ["values", "updates", "messages-tuple", "messages", "custom", "events", "debug", "tasks", "checkpoints"]


async def test_every_mode_at_once(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        chunks = await collect(client.runs.stream(
            tid, "chat", input={"messages": [{"type": "human", "content": "hi", "id": "h1"}]}, stream_mode=ALL_MODES))
        got = parts(chunks)
        by = lambda name: [d for e, d in got if e == name]  # noqa: E731
        assert got[0][0] == "metadata"
        assert [v["notes"] for v in by("values")] == [[], ["thought"], ["thought"]]
        hello = {"type": "ai", "content": "Hello there", "id": "msg-1"}
        assert _msg(by("values")[-1]["messages"][-1]) == hello
        updates = by("updates")
        assert updates[0] == {"think": {"notes": ["thought"]}}
        assert [_msg(m) for m in updates[1]["answer"]["messages"]] == [hello]
        assert by("custom") == [{"progress": 0}, {"progress": 1}, {"progress": 2}]
        # messages-tuple: the streamed chunks, with LangGraph's metadata
        tuples = by("messages")
        assert [m["content"] for m, _ in tuples] == ["Hel", "lo", " there"]
        assert all(meta["langgraph_node"] == "answer" and meta["langgraph_step"] == 2 for _, meta in tuples)
        # messages: metadata once, partials accumulate, then complete
        assert by("messages/metadata")[0]["msg-1"]["metadata"]["langgraph_node"] == "answer"
        assert [p[0]["content"] for p in by("messages/partial")] == ["Hel", "Hello", "Hello there"]
        assert [[_msg(m) for m in c] for c in by("messages/complete")] == [[hello]]
        tasks = by("tasks")
        assert [(t["name"], "input" in t) for t in tasks] == [("think", True), ("think", False), ("answer", True),
                                                              ("answer", False)]
        assert tasks[1]["result"] == {"notes": ["thought"]} and tasks[1]["error"] is None
        cps = by("checkpoints")
        assert [c["metadata"]["source"] for c in cps] == ["input", "loop", "loop", "loop"]
        assert [c["next"] for c in cps] == [["__start__"], ["think"], ["answer"], []]
        assert cps[1]["parent_config"] == cps[0]["config"] and cps[0]["config"]["configurable"]["thread_id"] == tid
        debug = by("debug")
        assert [d["type"] for d in debug] == ["checkpoint", "checkpoint", "task", "task_result", "checkpoint", "task",
                                              "task_result", "checkpoint"]
        assert debug[1]["payload"]["checkpoint"]["checkpoint_id"] == cps[1]["config"]["configurable"]["checkpoint_id"]
        evs = by("events")
        assert [(e["event"], e["name"]) for e in evs if e["event"] != "on_chat_model_stream"] == [
            ("on_chain_start", "LangGraph"), ("on_chain_start", "think"), ("on_chain_end", "think"),
            ("on_chain_start", "answer"), ("on_chain_end", "answer"), ("on_chain_end", "LangGraph")]
        assert evs[1]["metadata"]["langgraph_node"] == "think" and evs[1]["metadata"]["langgraph_step"] == 1
        assert len([e for e in evs if e["event"] == "on_chat_model_stream"]) == 3
        # v2 parts through the SDK
        v2 = [p async for p in client.runs.stream(tid, "linear", input={"n": 0, "trail": []}, version="v2",
                                                  stream_mode=["updates"])]
        assert [p["type"] for p in v2] == ["metadata", "updates", "updates", "updates"]


async def test_interrupt_in_a_stream(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        got = parts(await collect(client.runs.stream(tid, "hitl", input={"amount": 7},
                                                     stream_mode=["values", "updates"])))
        assert [e for e, _ in got] == ["metadata", "values", "updates", "values", "updates", "values"]
        intr = got[4][1]["__interrupt__"]
        assert intr[0]["value"] == {"question": "approve?", "amount": 7} and intr[0]["id"]
        assert got[5][1] == {"amount": 7, "trail": ["plan"], "__interrupt__": intr}
        only_values = parts(await collect(client.runs.stream(tid, "hitl", command={"resume": True})))
        # a resumed run starts with the current state, as LangGraph does
        assert [d for _, d in only_values[1:]] == [
            {"amount": 7, "trail": ["plan"]},
            {"amount": 7, "trail": ["plan", "review"], "approved": True},
            {"amount": 7, "trail": ["plan", "review", "published"], "approved": True}]
        # errors: an error frame, then the stream closes
        got = parts(await collect(client.runs.stream(tid, "failing", input={"n": 1}, stream_mode="updates")))
        assert got[-1] == ("error", {"error": "TypeError", "message": "boom"})


async def test_stream_subgraphs(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        got = parts(await collect(client.runs.stream(tid, "sub", input={"topic": "x", "notes": []},
                                                     stream_mode=["values", "updates"], stream_subgraphs=True)))
        events = [e for e, _ in got]
        assert events[0] == "metadata"
        sub_events = [(e, d) for e, d in got if "|" in e]
        # the subgraph's own supersteps, as LangGraph streams them: `mode|<node>:<task id>`
        assert {e.split("|")[0] for e, _ in sub_events} == {"values", "updates"}
        assert all(e.split("|")[1].startswith("sub:") for e, _ in sub_events), sub_events
        assert [d for e, d in sub_events if e.startswith("updates|")] == [
            {"inner_a": {"notes": ["inner_a:x"]}}, {"inner_b": {"notes": ["inner_b"]}}]
        assert [d for e, d in sub_events if e.startswith("values|")][-1] == {
            "topic": "x", "notes": ["before", "inner_a:x", "inner_b"]}
        # they come before the parent's update of the `sub` node, and the parent's own frames are unchanged
        parent_sub_update = events.index("updates", max(i for i, e in enumerate(events) if "|" in e))
        assert got[parent_sub_update][1] == {"sub": {"topic": "x", "notes": ["before", "inner_a:x", "inner_b"]}}
        # without stream_subgraphs, no subgraph frames
        tid2 = (await client.threads.create())["thread_id"]
        plain = parts(await collect(client.runs.stream(tid2, "sub", input={"topic": "x", "notes": []},
                                                       stream_mode=["values", "updates"])))
        assert not [e for e, _ in plain if "|" in e]
        assert [e for e, _ in plain if e == "values"] == ["values"] * 3


async def _read_frames(http: httpx.AsyncClient, method: str, path: str, n: int, **kw: Any) -> tuple[list[str], str]:
    """Read `n` SSE frames, then drop the connection. Returns (frames, run id from Content-Location)."""
    frames: list[str] = []
    buf = ""
    async with http.stream(method, path, **kw) as r:
        loc = r.headers.get("content-location", "")
        async for text in r.aiter_text():
            buf += text
            while "\n\n" in buf:
                frame, buf = buf.split("\n\n", 1)
                if not frame.startswith(":"):
                    frames.append(frame)
            if len(frames) >= n:
                break
    return frames[:n], loc.rsplit("/", 1)[-1]


def _frame_id(frame: str) -> str:
    return next(line[4:] for line in frame.splitlines() if line.startswith("id: "))


async def test_disconnect_and_resume_exactly(database_url: str, nats_url: str, nats_prefix: str) -> None:
    modes = ["values", "updates", "tasks"]
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        async with httpx.AsyncClient(base_url=st.url, timeout=30) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            # cut off after 5 frames: in the middle of an event's frames (ids `seq:i`)
            first, rid = await _read_frames(http, "POST", f"/threads/{tid}/runs/stream", 5,
                                            json={"assistant_id": "ticker", "input": {"n": 0}, "stream_mode": modes})
            cut = _frame_id(first[-1])
            assert ":" in cut or cut.isdigit()
            rest = await collect(client.runs.join_stream(tid, rid, last_event_id=cut, stream_mode=modes))
            full = await collect(client.runs.join_stream(tid, rid, last_event_id="0", stream_mode=modes))
        full_ids = [c.id for c in full]
        got_ids = [_frame_id(f) for f in first] + [c.id for c in rest]
        assert got_ids == full_ids  # `Last-Event-ID: 0` replays everything, metadata included
        assert parts(rest) == parts(full)[len(first):]
        assert [c.event for c in full].count("updates") == 6


async def test_join_mid_run_goes_live_and_cancel_on_disconnect(database_url: str, nats_url: str,
                                                               nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        async with httpx.AsyncClient(base_url=st.url, timeout=30) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            # on_disconnect=cancel: the client goes away, the run is cancelled
            _, rid = await _read_frames(http, "POST", f"/threads/{tid}/runs/stream", 2,
                                        json={"assistant_id": "ticker", "input": {"n": 0}, "on_disconnect": "cancel"})
            run = await _eventually_status(client, tid, rid, {"interrupted"})
            assert run["status"] == "interrupted"
            # default (continue): the run goes on
            _, rid = await _read_frames(http, "POST", f"/threads/{tid}/runs/stream", 2,
                                        json={"assistant_id": "ticker", "input": {"n": 0}})
            # join mid-run without an id: live frames only, up to the end
            live = parts(await collect(client.runs.join_stream(tid, rid, stream_mode="updates")))
            assert 0 < len(live) <= 6 and all(e == "updates" for e, _ in live)
            assert (await client.runs.get(tid, rid))["status"] == "success"
            # join with cancel_on_disconnect=true, then drop
            run = await client.runs.create(tid, "ticker", input={"n": 0})
            await _read_frames(http, "GET", f"/threads/{tid}/runs/{run['run_id']}/stream", 1,
                               params={"cancel_on_disconnect": "true", "stream_mode": '["updates"]'})
            await _eventually_status(client, tid, run["run_id"], {"interrupted"})


async def _eventually_status(client: Any, tid: str, rid: str, statuses: set[str]) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        run: dict[str, Any] = await client.runs.get(tid, rid)
        return run if run["status"] in statuses else None

    return await eventually(check, within=10, what=f"run {rid} {statuses}")


async def test_thread_stream_heartbeats_and_resumes(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS, heartbeat=0.3) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        async with httpx.AsyncClient(base_url=st.url, timeout=30) as http:
            raw = b""
            async with http.stream("GET", f"/threads/{tid}/stream") as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                async for b in r.aiter_bytes():
                    raw += b
                    if raw.count(b": heartbeat") >= 2:
                        break
        got: list[Any] = []

        async def follow() -> None:  # from the thread's beginning (`0`), so no run can slip by
            async for c in await client.threads.join_stream(tid, last_event_id="0"):
                got.append(c)
                if sum(1 for g in got if g.event == "metadata" and g.data.get("status") == "run_done") == 2:
                    return

        follower = asyncio.create_task(follow())
        await client.runs.wait(tid, "linear", input={"n": 0, "trail": []})
        second = await client.runs.create(tid, "linear", input={"n": 10, "trail": []}, stream_mode=["updates"])
        await client.runs.join(tid, second["run_id"])
        await asyncio.wait_for(follower, 20)
        assert [c.event for c in got] == ["metadata", *["values"] * 4, "metadata",
                                          "metadata", *["updates"] * 3, "metadata"]
        assert got[5].data == {"status": "run_done", "run_id": got[0].data["run_id"]}
        ids = [int(c.id) for c in got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        # resume from the middle: exactly the rest (the thread stream never ends: stop after the last)
        again: list[Any] = []
        async for c in await client.threads.join_stream(tid, last_event_id=got[3].id):
            again.append(c)
            if c.id == got[-1].id:
                break
        assert parts(again) == parts(got[4:])
        # lifecycle only
        life: list[Any] = []
        async for c in await client.threads.join_stream(tid, last_event_id="0", stream_mode="lifecycle"):
            life.append(c)
            if len(life) == 4:
                break
        assert [c.data.get("status", "start") for c in life] == ["start", "run_done", "start", "run_done"]


async def test_relay_killed_and_nats_restarted_mid_run(database_url: str, nats_prefix: str,
                                                       tmp_path: Any) -> None:
    """The SSE client still gets every frame once and in order; JetStream has every event once, in order."""
    import asyncpg
    import nats as nats_client

    from duragraph.services import EmbeddedNats

    server = EmbeddedNats(tmp_path / "nats").start()
    graphs = {"ticker": SG.ticker(12, 0.25, chunks=2)}
    modes = ["updates", "custom"]
    try:
        async with live_stack(database_url, server.url, nats_prefix, graphs) as st:
            client = get_client(url=st.url, api_key=None)
            tid = (await client.threads.create())["thread_id"]
            got: list[Any] = []

            async def consume() -> None:
                async for c in client.runs.stream(tid, "ticker", input={"n": 0}, stream_mode=modes):
                    got.append(c)

            def updates_at_least(n: int) -> Any:
                async def check() -> bool:
                    return len([c for c in got if c.event == "updates"]) >= n
                return check

            streaming = asyncio.create_task(consume())
            await eventually(updates_at_least(2), what="2 updates")
            await st.stop_relay(kill=True)  # events pile up in the outbox; the stream polls Postgres
            await asyncio.sleep(0.8)
            st.start_relay()
            await eventually(updates_at_least(5), what="5 updates")
            server.stop()  # NATS goes away mid-run...
            await asyncio.sleep(0.8)
            server.start()  # ...and comes back on the same port with its JetStream data
            await asyncio.wait_for(streaming, 60)
            run_id = got[0].data["run_id"]
            full = await collect(client.runs.join_stream(tid, run_id, last_event_id="0", stream_mode=modes))
            assert parts(got) == parts(full) and [c.id for c in got] == [c.id for c in full]
            assert [c.event for c in got].count("updates") == 12 and [c.event for c in got].count("custom") == 24

            # every event of the run reached JetStream exactly once, in order
            conn = await asyncpg.connect(database_url)
            try:
                n_events = await conn.fetchval("SELECT count(*) FROM events WHERE run_id = $1", uuid.UUID(run_id))
                async def drained() -> bool:
                    return not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

                await eventually(drained, what="outbox drained")
            finally:
                await conn.close()
            nc = await nats_client.connect(server.url)
            try:
                js = nc.jetstream()
                sub = await js.subscribe(f"{nats_prefix}.events.{tid}.{run_id}", stream=st.settings.nats_stream,
                                         ordered_consumer=True)
                seqs = []
                while True:
                    try:
                        msg = await sub.next_msg(timeout=1.0)
                    except nats_client.errors.TimeoutError:
                        break
                    seqs.append(int(msg.headers["Duragraph-Seq"]))
                await sub.unsubscribe()
            finally:
                await nc.close()
            assert seqs == list(range(1, n_events + 1))
    finally:
        server.stop()


async def test_sdk_reconnects_across_an_api_restart(database_url: str, nats_url: str, nats_prefix: str) -> None:
    """The API process goes away mid-stream: the SDK re-GETs `Location` with the last id it saw and the
    stream continues where it was cut, nothing missing, nothing twice."""
    graphs = {"ticker": SG.ticker(12, 0.3)}
    modes = ["values", "updates", "tasks"]
    async with live_stack(database_url, nats_url, nats_prefix, graphs) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        got: list[Any] = []

        async def consume() -> None:
            async for c in client.runs.stream(tid, "ticker", input={"n": 0}, stream_mode=modes):
                got.append(c)

        streaming = asyncio.create_task(consume())

        async def three_updates() -> bool:
            return [c.event for c in got].count("updates") >= 3

        await eventually(three_updates, what="3 updates")
        await st.restart_api()
        await asyncio.wait_for(streaming, 60)
        run_id = got[0].data["run_id"]
        full = await collect(client.runs.join_stream(tid, run_id, last_event_id="0", stream_mode=modes))
        assert [c.id for c in got] == [c.id for c in full] and parts(got) == parts(full)
        assert [c.event for c in got].count("updates") == 12


def _msg(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the official server sends it (all of LangChain's fields), cut to what a test checks."""
    return {k: message[k] for k in ("type", "content", "id")}


async def test_api_consumes_events_only_while_a_stream_is_open(database_url: str, nats_url: str,
                                                               nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        assert st.api._server is not None
        app = st.api._server.config.app
        assert isinstance(app, Litestar)
        hub: LiveHub = app.state.live
        hub.config.idle_unsubscribe = 0.2
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        conn = await asyncpg.connect(database_url)
        try:
            async def published() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)

            assert (await client.runs.wait(tid, "linear", input={"n": 0, "trail": []}))["n"] == 3
            await eventually(published, what="the run's events published by the relay")
            assert hub.received == 0  # nobody has streamed: the API followed no events
            # the first stream subscribes; the ticker's later steps come live
            chunks = await collect(client.runs.stream(tid, "ticker", input={"n": 0}, stream_mode="updates"))
            assert [c.event for c in chunks][1:] == ["updates"] * 6
            assert hub.received > 0
            # with no stream open the hub drops its consumer; runs then cost the API no events
            await eventually(lambda: _async(hub._sub is None), what="the live hub unsubscribed")
            before = hub.received
            assert (await client.runs.wait(tid, "linear", input={"n": 0, "trail": []}))["n"] == 3
            await eventually(published, what="the run's events published by the relay")
            assert hub.received == before
        finally:
            await conn.close()


async def test_the_relay_publishes_each_event_as_it_was_committed(database_url: str, nats_url: str,
                                                                  nats_prefix: str) -> None:
    """The outbox refers to the events: what reaches JetStream is each `events` row as JSON (the bytes the
    engine stored in the outbox before migration 0014), on its run's subject, and the outbox is empty once
    everything is published."""
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        assert (await client.runs.wait(tid, "linear", input={"n": 0, "trail": []}))["n"] == 3
        await client.runs.wait(tid, "chat", input={"messages": [{"type": "human", "content": "hi"}]})
        conn = await asyncpg.connect(database_url)
        try:
            async def drained() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM outbox") == 0)

            await eventually(drained, what="the outbox drained (published rows are deleted)")
            events = await conn.fetch(
                "SELECT event_id, run_id, thread_id, seq, event, data, convert_to(jsonb_build_object("
                "'event_id', event_id, 'run_id', run_id, 'thread_id', thread_id, 'seq', seq, 'event', event, "
                "'data', data)::text, 'UTF8') AS bytes FROM events WHERE thread_id = $1", uuid.UUID(tid))
        finally:
            await conn.close()
        msgs = {m.headers["Nats-Msg-Id"]: m for m in await stream_messages(nats_url, st.relay_config)}
        assert len(events) > 10 and set(msgs) == {str(e["event_id"]) for e in events}
        for e in events:
            m = msgs[str(e["event_id"])]
            assert m.subject == f"{nats_prefix}.events.{tid}.{e['run_id']}"
            assert m.data == e["bytes"]
            assert orjson.loads(m.data) == {"event_id": str(e["event_id"]), "run_id": str(e["run_id"]),
                                            "thread_id": tid, "seq": e["seq"], "event": e["event"],
                                            "data": orjson.loads(e["data"])}


async def test_a_stream_of_a_run_whose_thread_is_deleted_ends(database_url: str, nats_url: str,
                                                             nats_prefix: str) -> None:
    """Deleting a thread ends its running run (`interrupted`) and deletes its events; the `end` event still
    reaches the run's live stream through the relay (its outbox row keeps what the deletion removed)."""
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        seen: list[Any] = []
        started = asyncio.Event()

        async def watch() -> None:
            async for c in client.runs.stream(tid, "ticker", input={"n": 0}, stream_mode="updates"):
                seen.append(c)
                if c.event == "updates":
                    started.set()

        watching = asyncio.create_task(watch())
        await asyncio.wait_for(started.wait(), timeout=15)
        await client.threads.delete(tid)
        await asyncio.wait_for(watching, timeout=15)  # the stream ended: it saw its run's `end`
        assert seen[0].event == "metadata" and len(seen) < 8


async def _async(value: bool) -> bool:
    return value
