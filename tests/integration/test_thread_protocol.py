"""The thread-centric streaming protocol driven by langgraph-sdk's own `client.threads.stream(...)`
over SSE and WebSocket, plus the raw wire: filters, `since` resume, subscribe/unsubscribe, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson
import pytest
from langgraph_sdk import get_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.integration import graphs as G
from tests.integration import stream_graphs as SG
from tests.integration.api_support import live_stack
from tests.support import eventually

GRAPHS = {"chat": SG.chat(), "hitl": G.hitl(), "ticker": SG.ticker(6, 0.15), "failing": G.failing()}
TRANSPORTS = ["sse", "websocket"]


def data_of(events: Sequence[Mapping[str, Any]], method: str) -> list[Any]:
    return [e["params"]["data"] for e in events if e["method"] == method]


async def sse_events(http: httpx.AsyncClient, tid: str, body: dict[str, Any], until: Any,
                     limit: int = 1000) -> list[dict[str, Any]]:
    """Protocol events of a raw SSE subscription until `until(event)` (inclusive)."""
    out: list[dict[str, Any]] = []
    async with http.stream("POST", f"/threads/{tid}/stream/events", json=body) as r:
        assert r.status_code == 200, await r.aread()
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                out.append(orjson.loads(line[6:]))
                if until(out[-1]) or len(out) >= limit:
                    return out
    return out


def root_done(e: dict[str, Any]) -> bool:
    return e["method"] == "lifecycle" and e["params"]["data"]["event"] in ("completed", "failed") \
        and not e["params"]["namespace"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_run_and_its_events(database_url: str, nats_url: str, nats_prefix: str, transport: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        async with client.threads.stream(assistant_id="chat", transport=transport) as thread:  # type: ignore[arg-type]
            started = await thread.run.start(input={"messages": [], "notes": []})
            assert uuid.UUID(started["run_id"])
            events = [e async for e in thread.subscribe(
                ["values", "updates", "messages", "custom", "lifecycle", "checkpoints", "tasks"])]
            output = await thread.output
            assert output == (await client.threads.get_state(thread.thread_id))["values"]
            assert output["notes"] == ["thought"] and output["messages"][0]["content"] == "Hello there"
        lifecycle = [d["event"] for d in data_of(events, "lifecycle")]
        assert lifecycle == ["started", "completed"]
        assert data_of(events, "custom") == [{"payload": {"progress": i}} for i in range(3)]
        assert [u["node"] for u in data_of(events, "updates")] == ["think", "answer"]
        assert data_of(events, "values")[-1]["notes"] == ["thought"]
        assert data_of(events, "values")[-1]["messages"][0]["content"] == "Hello there"
        msgs = data_of(events, "messages")
        kinds = [m["event"] for m in msgs]
        assert kinds[0] == "message-start" and kinds[-1] == "message-finish"
        assert msgs[0]["id"] == "msg-1" and msgs[0]["role"] == "ai"
        assert "".join(m["delta"]["text"] for m in msgs if m["event"] == "content-block-delta") == "Hello there"
        assert [m["content"]["text"] for m in msgs if m["event"] == "content-block-finish"] == ["Hello there"]
        cps = data_of(events, "checkpoints")
        assert cps and all({"id", "step", "source"} <= set(c) for c in cps)
        assert {t["name"] for t in data_of(events, "tasks")} == {"think", "answer"}
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len({e["event_id"] for e in events}) == len(events)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_interrupt_answered_through_the_session(database_url: str, nats_url: str, nats_prefix: str,
                                                      transport: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        async with client.threads.stream(assistant_id="hitl", transport=transport) as thread:  # type: ignore[arg-type]
            await thread.run.start(input={"amount": 7, "trail": []})

            async def paused() -> bool:
                return thread.interrupted
            await eventually(paused, what="the interrupt reached the session")
            [pending] = thread.interrupts
            assert pending["value"] == {"question": "approve?", "amount": 7} and pending["namespace"] == []
            with pytest.raises(RuntimeError, match="no_such_interrupt"):
                await thread._send_command("input.respond", {"interrupt_id": "nope", "namespace": [],
                                                              "response": True})
            await thread.run.respond(True)
            final = await thread.output
        assert final["approved"] is True and final["trail"] == ["plan", "review", "published"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_reconnect_loses_nothing(database_url: str, nats_url: str, nats_prefix: str, transport: str) -> None:
    """The API restarts mid-run: the SDK's subscription reconnects `since` its cursor; every values
    snapshot arrives once, in order."""
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        client = get_client(url=st.url, api_key=None)
        async with client.threads.stream(assistant_id="ticker", transport=transport) as thread:  # type: ignore[arg-type]
            # the SDK retries a dropped stream 5 times over ~3 s; an API restart on a loaded 2-core machine can
            # take longer, so this session retries longer (the server's side, resuming `since`, is what is tested)
            thread._shared_max_reconnect_attempts = 30
            await thread.run.start(input={"n": 0, "stamps": []})
            got: list[int] = []

            async def consume() -> None:
                async for e in thread.subscribe(["values", "lifecycle"]):
                    if e["method"] == "values":
                        got.append(e["params"]["data"].get("n", 0))

            task = asyncio.create_task(consume())

            async def two() -> bool:
                return len(got) >= 2
            await eventually(two)
            await st.restart_api(down=0.3)
            await asyncio.wait_for(task, 60)
        assert got == list(range(7)), got


async def test_raw_wire_filters_resume_and_errors(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st, \
            httpx.AsyncClient(base_url=st.url, timeout=30) as http:
        tid = str(uuid.uuid4())
        r = await http.post(f"/threads/{tid}/commands", json={"id": 1, "method": "run.start",
                                                               "params": {"assistant_id": "chat", "input": {}}})
        body = r.json()
        assert body["type"] == "success" and body["id"] == 1 and set(body["result"]) == {"run_id"}
        since = body["meta"]["applied_through_seq"]
        everything = await sse_events(http, tid, {"channels": ["values", "updates", "messages", "custom",
                                                               "lifecycle", "tasks", "checkpoints"],
                                                  "since": since}, root_done)
        # a channel filter
        custom = await sse_events(http, tid, {"channels": ["custom"], "since": since},
                                  lambda e: e["params"]["data"]["payload"] == {"progress": 2})
        assert [e["event_id"] for e in custom] == [e["event_id"] for e in everything if e["method"] == "custom"]
        # resume from the middle of one durable event's protocol events: exactly the rest
        cut = len(everything) // 2
        rest = await sse_events(http, tid, {"channels": ["values", "updates", "messages", "custom", "lifecycle",
                                                         "tasks", "checkpoints"], "since": everything[cut]["seq"]},
                                root_done)
        assert rest == everything[cut + 1:]
        # namespace filter: nothing of the root when asking for a subgraph's namespace
        r = await http.post(f"/threads/{tid}/commands", json={"id": 2, "method": "run.start",
                                                               "params": {"assistant_id": "chat", "input": {}}})
        since2 = r.json()["meta"]["applied_through_seq"]
        assert since2 > everything[-1]["seq"]
        only_root = await sse_events(http, tid, {"channels": ["lifecycle", "values"], "namespaces": [[]],
                                                 "depth": 0, "since": since2}, root_done)
        assert only_root and all(e["params"]["namespace"] == [] for e in only_root)
        assert only_root[0]["params"]["run_id"] == r.json()["result"]["run_id"]
        # errors: unknown command, bad filter, unknown thread
        r = await http.post(f"/threads/{tid}/commands", json={"id": 3, "method": "nope.nope", "params": {}})
        assert r.json() == {"type": "error", "id": 3, "error": "unknown_command",
                            "message": "Unknown command 'nope.nope'"}
        r = await http.post(f"/threads/{tid}/commands", json={"id": 4, "method": "run.start", "params": {}})
        assert r.json()["error"] == "invalid_argument"
        r = await http.post(f"/threads/{tid}/stream/events", json={"channels": []})
        assert r.status_code == 422 and r.json()["code"]
        r = await http.post(f"/threads/{uuid.uuid4()}/stream/events", json={"channels": ["values"]})
        assert r.status_code == 404

        # WebSocket: commands and events both ways; subscribe, receive, unsubscribe
        ws_url = st.url.replace("http://", "ws://")
        async with connect(f"{ws_url}/threads/{tid}/stream/events") as ws:
            await ws.send(orjson.dumps({"id": 1, "method": "subscription.subscribe",
                                        "params": {"channels": ["custom"], "since": since}}).decode())
            ack = orjson.loads(await ws.recv())
            assert ack["type"] == "success" and ack["id"] == 1
            sid = ack["result"]["subscription_id"]
            first = [orjson.loads(await ws.recv()) for _ in range(6)]  # the custom events of both runs
            assert [e["params"]["data"]["payload"]["progress"] for e in first] == [0, 1, 2, 0, 1, 2]
            await ws.send(orjson.dumps({"id": 2, "method": "subscription.unsubscribe",
                                        "params": {"subscription_id": sid}}).decode())
            assert orjson.loads(await ws.recv()) == {"type": "success", "id": 2, "result": {}}
            await ws.send(orjson.dumps({"id": 3, "method": "subscription.unsubscribe",
                                        "params": {"subscription_id": sid}}).decode())
            assert orjson.loads(await ws.recv())["error"] == "no_such_subscription"
            await ws.send(orjson.dumps({"id": 4, "method": "run.start",
                                        "params": {"assistant_id": "chat", "input": {}}}).decode())
            started = orjson.loads(await ws.recv())
            assert started["type"] == "success" and started["id"] == 4
        # the compatibility socket of one run: that run's events only
        rid = started["result"]["run_id"]
        async with connect(f"{ws_url}/threads/{tid}/runs/{rid}/protocol") as ws:
            await ws.send(orjson.dumps({"id": 1, "method": "subscription.subscribe",
                                        "params": {"channels": ["lifecycle"]}}).decode())
            assert orjson.loads(await ws.recv())["type"] == "success"
            got = [orjson.loads(await ws.recv()) for _ in range(2)]
            assert [e["params"]["data"]["event"] for e in got] == ["started", "completed"]
            assert {e["params"]["run_id"] for e in got} == {rid}
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(f"{ws_url}/threads/{uuid.uuid4()}/stream/events") as ws:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
