"""Every public method of the official async client (`langgraph_sdk` 0.4.14) against the live API,
with the optional arguments the SDK exposes, and every response checked against the SDK's own
TypedDicts (`langgraph_sdk.schema`): required keys present, ids strings, timestamps ISO-8601 with an
offset, statuses from the SDK's Literal enums.

Calls the README lists as unsupported are asserted to answer their documented status (501 / 404).
Deviations from the SDK's TypedDicts that the server knowingly has are listed once in KNOWN_* below,
each with the reason; anything else fails the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import types
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk import schema as S
from langgraph_sdk.schema import StreamPart

from tests.integration import graphs as G
from tests.integration import stream_graphs as SG
from tests.integration.api_support import live, live_stack
from tests.support import eventually

GRAPHS = {"linear": G.linear(3), "hitl": G.hitl(), "failing": G.failing(), "slow": G.slow(1.5),
          "sub": G.with_subgraph(), "chat": SG.chat()}

# Keys the SDK's TypedDicts declare required that the server leaves out, and why:
KNOWN_OPTIONAL: set[tuple[str, str]] = {
    # Checkpoint.checkpoint_map is only meaningful for subgraph checkpoints; the reference server
    # (langgraph-api 0.16.7) omits it too (LANGGRAPH_API.md 3.1), so clients cannot rely on it.
    ("Checkpoint", "checkpoint_map"),
}
# Keys whose value the server sends as null where the SDK's type does not allow null:
KNOWN_NULLABLE: set[tuple[str, str]] = {
    # Interrupt.response_schema is NotRequired[dict]; in wait / stream payloads the reference server
    # sends `"response_schema": null` too (LANGGRAPH_API.md 3.1), and DuraGraph copies it.
    ("Interrupt", "response_schema"),
}


# -- shape checking against the SDK's TypedDicts -------------------------------------------------


def _hints(td: type) -> dict[str, Any]:
    return typing.get_type_hints(td, vars(S), include_extras=True)


def _required(td: type) -> set[str]:
    # schema.py uses `from __future__ import annotations`, so typing_extensions cannot see NotRequired
    # at class creation: __required_keys__ over-reports. Read the markers from the resolved hints.
    hints = _hints(td)
    req = {k for k in td.__required_keys__
           if typing.get_origin(hints.get(k)) is not typing.NotRequired}
    return {k for k in req if (td.__name__, k) not in KNOWN_OPTIONAL}


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) in (typing.NotRequired, typing.Required, typing.Annotated):
        tp = typing.get_args(tp)[0]
    return tp


def conform(v: Any, tp: Any, path: str = "$") -> list[str]:
    """The ways `v` (decoded JSON) does not fit the SDK type `tp`; [] when it fits."""
    tp = _unwrap(tp)
    if tp is Any:
        return []
    if tp == S.Input or getattr(tp, "_is_protocol", False):  # Input / Context: any JSON object
        return [] if isinstance(v, dict) else [f"{path}: expected an object, got {v!r:.80}"]
    if isinstance(tp, type) and hasattr(tp, "__required_keys__"):
        if not isinstance(v, dict):
            return [f"{path}: expected {tp.__name__}, got {v!r:.80}"]
        errs = [f"{path}: missing {k!r} ({tp.__name__})" for k in sorted(_required(tp)) if k not in v]
        for k, sub in _hints(tp).items():
            if k in v:
                if v[k] is None and (tp.__name__, k) in KNOWN_NULLABLE:
                    continue
                errs += conform(v[k], sub, f"{path}.{k}")
        return errs
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return [] if v in args else [f"{path}: {v!r} not one of {args}"]
    if origin in (typing.Union, types.UnionType):
        tries = [conform(v, a, path) for a in args]
        return [] if any(not t for t in tries) else [f"{path}: {v!r:.80} fits no arm of {tp}: {tries}"]
    if tp is type(None):
        return [] if v is None else [f"{path}: expected null, got {v!r:.80}"]
    if tp is dt.datetime:
        try:
            ok = isinstance(v, str) and dt.datetime.fromisoformat(v).tzinfo is not None
        except ValueError:
            ok = False
        return [] if ok else [f"{path}: expected an ISO-8601 timestamp with offset, got {v!r}"]
    if tp is bool:
        return [] if isinstance(v, bool) else [f"{path}: expected bool, got {v!r}"]
    if tp is int:
        return [] if isinstance(v, int) and not isinstance(v, bool) else [f"{path}: expected int, got {v!r}"]
    if tp is float:
        return [] if isinstance(v, int | float) and not isinstance(v, bool) else [f"{path}: expected number, got {v!r}"]
    if tp is str:
        return [] if isinstance(v, str) else [f"{path}: expected str, got {v!r:.80}"]
    if tp is dict or origin in (dict, Mapping):
        if not isinstance(v, dict):
            return [f"{path}: expected an object, got {v!r:.80}"]
        return [e for k, x in v.items() for e in conform(x, args[1], f"{path}[{k!r}]")] if len(args) == 2 else []
    if tp is list or origin in (list, Sequence):
        if not isinstance(v, list):
            return [f"{path}: expected an array, got {v!r:.80}"]
        return [e for i, x in enumerate(v) for e in conform(x, args[0], f"{path}[{i}]")] if args else []
    raise AssertionError(f"conform: unhandled type {tp!r} at {path}")


def check(v: Any, tp: Any) -> Any:
    errs = conform(v, tp)
    assert not errs, f"response does not match {tp}: {errs}"
    return v


def is_uuid(s: Any) -> bool:
    try:
        uuid.UUID(str(s))
    except ValueError:
        return False
    return isinstance(s, str)


async def expect_status(aw: Awaitable[Any], status: int | tuple[int, ...], code: str | None = None
                        ) -> dict[str, Any]:
    """The call fails with `status` (or one of them) and LangGraph's error body `{"detail", "code"}`."""
    with pytest.raises(httpx.HTTPStatusError) as info:
        await aw
    resp = info.value.response
    assert resp.status_code in (status if isinstance(status, tuple) else (status,)), resp.text
    body = resp.json()
    assert isinstance(body.get("detail"), str)
    if code is not None:
        assert body.get("code") == code, body
    return body


async def collect(it: AsyncIterator[Any], *, within: float = 30.0, max_items: int | None = None) -> list[Any]:
    out: list[Any] = []

    async def go() -> None:
        async for p in it:
            out.append(p)
            if max_items is not None and len(out) >= max_items:
                return

    await asyncio.wait_for(go(), within)
    return out


V2_TYPES: dict[str, Any] = {
    "values": S.ValuesStreamPart, "updates": S.UpdatesStreamPart, "custom": S.CustomStreamPart,
    "messages": S.MessagesTupleStreamPart, "messages/partial": S.MessagesPartialStreamPart,
    "messages/complete": S.MessagesCompleteStreamPart, "messages/metadata": S.MessagesMetadataStreamPart,
    "tasks": S.TasksStreamPart, "checkpoints": S.CheckpointsStreamPart, "debug": S.DebugStreamPart,
    "metadata": S.MetadataStreamPart,
}


def check_v2_part(p: Any) -> None:
    assert isinstance(p, dict) and isinstance(p.get("type"), str) and p.get("ns") == [], p
    tp = V2_TYPES.get(p["type"])
    if tp is None:  # `events` has no StreamPartV2 TypedDict in the SDK: the generic envelope only
        assert p["type"] == "events" and {"event", "data", "name", "run_id"} <= set(p["data"]), p
        return
    check(p, tp)


# -- assistants -----------------------------------------------------------------------------------


async def test_assistants_surface(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        c = get_client(url=url, api_key=None)
        A = c.assistants
        aid = str(uuid.uuid4())
        a = check(await A.create("linear", config={"tags": ["t"], "recursion_limit": 20, "configurable": {"k": "v"}},
                                 context={"model": "m"}, metadata={"team": "a"}, assistant_id=aid,
                                 if_exists="raise", name="lin", description="desc"), S.Assistant)
        assert a["assistant_id"] == aid and a["version"] == 1 and a["name"] == "lin" and a["description"] == "desc"
        assert a["context"] == {"model": "m"} and a["config"]["configurable"] == {"k": "v"}
        same = check(await A.create("linear", assistant_id=aid, if_exists="do_nothing"), S.Assistant)
        assert same["version"] == 1 and same["name"] == "lin"
        await expect_status(A.create("linear", assistant_id=aid, if_exists="raise"), 409, "conflict")
        await expect_status(A.create("nope"), 404)

        check(await A.get(aid), S.Assistant)
        system = check(await A.get("linear"), S.Assistant)
        assert is_uuid(system["assistant_id"]) and system["metadata"] == {"created_by": "system"}

        g = await A.get_graph(aid, xray=True)
        assert {n["id"] for n in g["nodes"]} >= {"__start__", "s0", "s1", "s2", "__end__"}
        assert all({"source", "target"} <= set(e) for e in g["edges"])
        g1 = await A.get_graph("sub", xray=1)
        assert any(n["id"].startswith("sub:") for n in g1["nodes"])

        schemas = check(await A.get_schemas(aid), S.GraphSchema)
        assert schemas["graph_id"] == "linear" and schemas["input_schema"]["type"] == "object"

        assert check(await A.get_subgraphs(aid), S.Subgraphs) == {}
        subs = check(await A.get_subgraphs("sub", recurse=True), S.Subgraphs)
        assert set(subs) == {"sub"}
        assert set(check(await A.get_subgraphs("sub", namespace="sub", recurse=False), S.Subgraphs)) == {"sub"}

        up = check(await A.update(aid, graph_id="linear", config={"tags": ["u"]}, context={"model": "n"},
                                  metadata={"rev": 2}, name="lin2", description="d2"), S.Assistant)
        assert up["version"] == 2 and up["metadata"] == {"team": "a", "rev": 2} and up["name"] == "lin2"

        # a second non-system assistant so that pagination has a next page
        aid2 = (await A.create("linear", metadata={"team": "a"}, name="lin-b"))["assistant_id"]
        page = await A.search(metadata={"team": "a"}, graph_id="linear", name="lin", limit=1, offset=0,
                              sort_by="created_at", sort_order="asc", select=["assistant_id", "name", "version"],
                              response_format="object")
        check(page, S.AssistantsSearchResponse | dict)
        assert [x["assistant_id"] for x in page["assistants"]] == [aid]
        assert set(page["assistants"][0]) == {"assistant_id", "name", "version"}
        assert page["next"] == "1"
        rest = await A.search(metadata={"team": "a"}, limit=1, offset=1, sort_by="created_at", sort_order="asc",
                              response_format="object")
        assert [x["assistant_id"] for x in rest["assistants"]] == [aid2] and rest["next"] is None
        for sort_by in ("assistant_id", "graph_id", "name", "created_at", "updated_at"):
            listed = check(await A.search(sort_by=sort_by, sort_order="desc", limit=50), list[S.Assistant])
            assert len(listed) == len(GRAPHS) + 2
        await expect_status(A.search(sort_by="bogus"), 422)  # type: ignore[arg-type]

        assert await A.count(metadata={"team": "a"}, graph_id="linear", name="lin") == 2
        assert await A.count() == len(GRAPHS) + 2

        versions = check(await A.get_versions(aid, limit=5, offset=0), list[S.AssistantVersion])
        assert [v["version"] for v in versions] == [2, 1]
        assert [v["version"] for v in await A.get_versions(aid, metadata={"rev": 2})] == [2]
        latest = check(await A.set_latest(aid, 1), S.Assistant)
        assert latest["version"] == 1 and latest["name"] == "lin"
        await expect_status(A.set_latest(aid, 9), 404)

        # delete_threads=True removes the threads the assistant ran on
        tid = (await c.threads.create())["thread_id"]
        await c.runs.wait(tid, aid, input={"n": 0, "trail": []})
        assert await A.delete(aid, delete_threads=True) is None
        await expect_status(A.get(aid), 404)
        await expect_status(c.threads.get(tid), 404)
        assert await A.delete(aid2) is None


# -- threads --------------------------------------------------------------------------------------


async def test_threads_surface(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        c = get_client(url=st.url, api_key=None)
        T = c.threads
        tid = str(uuid.uuid4())
        t = check(await T.create(metadata={"user": "u1"}, thread_id=tid, if_exists="raise", graph_id="linear",
                                 ttl=60), S.Thread)
        assert t["thread_id"] == tid and t["status"] == "idle"
        assert t["metadata"] == {"user": "u1", "graph_id": "linear"}
        assert check(await T.create(thread_id=tid, if_exists="do_nothing"), S.Thread)["thread_id"] == tid
        await expect_status(T.create(thread_id=tid), 409, "conflict")
        check(await T.create(ttl={"ttl": 5, "strategy": "delete"}), S.Thread)
        ss = check(await T.create(graph_id="linear", supersteps=[
            {"updates": [{"values": {"n": 0, "trail": []}, "as_node": "__input__"}]},
            {"updates": [{"values": {"n": 5, "trail": ["s0"]}, "as_node": "s0"}]}]), S.Thread)
        assert ss["status"] == "interrupted" and ss["values"] == {"n": 5, "trail": ["s0"]}
        await expect_status(T.create(graph_id="linear", supersteps=[
            {"updates": [{"values": {"n": 1}, "as_node": "s0"}, {"values": {"n": 2}, "as_node": "s1"}]}]),
            501, "unsupported")

        got = check(await T.get(tid, include=["ttl"]), S.Thread)
        assert got["ttl"]["strategy"] == "delete" and got["ttl"]["ttl_minutes"] == 60  # DuraGraph's stored form
        assert "ttl" not in await T.get(tid)
        upd = check(await T.update(tid, metadata={"x": 1}, ttl=120), S.Thread)
        assert upd["metadata"]["x"] == 1 and upd["metadata"]["user"] == "u1"
        assert await T.update(tid, metadata={"y": 2}, return_minimal=True) is None
        assert (await T.get(tid))["metadata"]["y"] == 2

        out = await c.runs.wait(tid, "linear", input={"n": 0, "trail": []})
        assert out == {"n": 3, "trail": ["s0", "s1", "s2"]}

        found = await T.search(metadata={"user": "u1"}, values={"n": 3}, ids=[tid], status="idle", limit=5,
                               offset=0, sort_by="updated_at", sort_order="desc",
                               select=["thread_id", "status", "values"], extract={"n": "values.n"})
        assert found == [{"thread_id": tid, "status": "idle", "values": out, "extracted": {"n": 3}}]
        for sort_by in ("thread_id", "status", "created_at", "updated_at", "state_updated_at"):
            check(await T.search(limit=10, sort_by=sort_by, sort_order="asc"), list[S.Thread])
        assert await T.count(metadata={"user": "u1"}, values={"n": 3}, status="idle") == 1
        assert await T.count(status="interrupted") == 1

        cp = check(await T.copy(tid), S.Thread)
        assert cp["thread_id"] != tid and cp["metadata"]["user"] == "u1"
        assert (await T.get_state(cp["thread_id"]))["values"] == out

        state = check(await T.get_state(tid, subgraphs=False), S.ThreadState)
        assert state["values"] == out and state["next"] == [] and state["checkpoint"]["thread_id"] == tid
        # `select` (ThreadStateSelectField, sent as a query parameter) keeps only those fields
        sel = await T.get_state(tid, select=["values", "next"])
        assert sel == {"values": out, "next": []}
        assert await T.get_state(tid, select=["values.n"]) == {"values": {"n": out["n"]}}
        await expect_status(T.get_state(tid, select=["nope"]), 422)
        check(await T.get_state(tid, subgraphs=True), S.ThreadState)

        hist = check(await T.get_history(tid, limit=10), list[S.ThreadState])
        assert [h["next"] for h in hist] == [[], ["s2"], ["s1"], ["s0"], ["__start__"]]
        at = hist[2]["checkpoint"]["checkpoint_id"]
        s2 = check(await T.get_state(tid, checkpoint_id=at), S.ThreadState)
        assert s2["values"] == {"n": 1, "trail": ["s0"]}
        s3 = check(await T.get_state(tid, checkpoint={"thread_id": tid, "checkpoint_ns": "", "checkpoint_id": at}),
                   S.ThreadState)
        assert s3["values"] == s2["values"]
        await expect_status(T.get_state(tid, checkpoint={"thread_id": tid, "checkpoint_ns": "sub:1",
                                                         "checkpoint_id": at}), 404, "not_found")
        older = await T.get_history(tid, limit=5, before={"checkpoint_id": hist[0]["checkpoint"]["checkpoint_id"]},
                                    metadata={"source": "loop"}, select=["values", "checkpoint"])
        assert [h["values"]["n"] for h in older] == [2, 1, 0]
        assert all(set(h) == {"values", "checkpoint"} for h in older)  # `select` applies to history too
        assert all(is_uuid(h["checkpoint"]["checkpoint_id"]) for h in older)
        check(await T.get_history(tid, limit=2, checkpoint={"checkpoint_ns": ""}), list[S.ThreadState])

        res = check(await T.update_state(tid, {"n": 100}, as_node="s1", checkpoint_id=at), S.ThreadUpdateStateResponse)
        assert is_uuid(res["checkpoint"]["checkpoint_id"])
        assert (await T.get_state(tid))["next"] == ["s2"]
        res2 = check(await T.update_state(tid, {"n": 101}, checkpoint={"thread_id": tid, "checkpoint_ns": "",
                                                                        "checkpoint_id": at}),
                     S.ThreadUpdateStateResponse)
        assert res2["checkpoint"]["checkpoint_id"] != res["checkpoint"]["checkpoint_id"]

        # an interrupted thread: Thread.interrupts and ThreadState.tasks[].interrupts
        htid = (await T.create())["thread_id"]
        await c.runs.wait(htid, "hitl", input={"amount": 3})
        ht = check(await T.get(htid), S.Thread)
        assert ht["status"] == "interrupted" and len(next(iter(ht["interrupts"].values()))) == 1
        hs = check(await T.get_state(htid), S.ThreadState)
        assert hs["tasks"][0]["interrupts"][0]["value"]["amount"] == 3

        # join_stream: stays open, so read a bounded number of frames
        frames = await collect(await T.join_stream(htid, stream_mode="lifecycle", last_event_id="0"), max_items=2)
        assert [f.event for f in frames] == ["metadata", "metadata"]
        assert frames[1].data["status"] == "run_done" and all(f.id for f in frames)
        frames = await collect(await T.join_stream(tid, stream_mode=["state_update"], last_event_id="0"), max_items=4)
        assert [f.event for f in frames] == ["values"] * 4
        assert [f.data for f in frames] == [{"n": 0, "trail": []}, {"n": 1, "trail": ["s0"]},
                                            {"n": 2, "trail": ["s0", "s1"]}, out]  # the state after each step

        # the error thread
        ftid = (await T.create())["thread_id"]
        await c.runs.wait(ftid, "failing", input={"key": "k"}, raise_error=False)
        ft = check(await T.get(ftid), S.Thread)
        assert ft["status"] == "error"

        pruned = await T.prune([cp["thread_id"]], strategy="keep_latest")
        assert pruned == {"pruned_count": 1}
        assert len(await T.get_history(cp["thread_id"], limit=10)) == 1
        assert await T.prune([cp["thread_id"]]) == {"pruned_count": 1}
        await expect_status(T.get(cp["thread_id"]), 404)

        assert await T.delete(ftid) is None
        await expect_status(T.get(ftid), 404, "not_found")
        await expect_status(T.get("not-a-uuid"), 422)

        # thread-centric protocol stream (tests/integration/test_thread_protocol.py covers it in depth): a
        # session opened on the thread waiting at its interrupt learns it, and answering it finishes the run
        async def protocol() -> Any:
            async with T.stream(htid, assistant_id="hitl") as ts:
                [pending] = (await T.get_state(htid))["interrupts"]

                async def learned() -> bool:
                    return [i["interrupt_id"] for i in ts.interrupts] == [pending["id"]]
                await eventually(learned, what="the reattached session knows the pending interrupt")
                await ts.run.respond(True)
                return await ts.output
        final = await asyncio.wait_for(protocol(), 30)
        assert final["trail"][-1] == "published"


# -- runs -----------------------------------------------------------------------------------------


async def test_runs_surface(database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        c = get_client(url=st.url, api_key=None)
        R, T = c.runs, c.threads
        tid = (await T.create())["thread_id"]
        created: list[S.RunCreateMetadata] = []
        run = check(await R.create(tid, "linear", input={"n": 0, "trail": []}, stream_mode=["values", "updates"],
                                   stream_subgraphs=False, stream_resumable=True, metadata={"k": "v"},
                                   config={"tags": ["a"], "recursion_limit": 50}, interrupt_before=["s2"],
                                   multitask_strategy="enqueue", if_not_exists="reject", after_seconds=0,
                                   durability="async", strict_resume=True, on_run_created=created.append), S.Run)
        rid = run["run_id"]
        assert run["thread_id"] == tid and is_uuid(rid) and run["metadata"]["k"] == "v"
        assert created == [{"run_id": rid, "thread_id": tid}]
        assert await R.join(tid, rid) == {"n": 2, "trail": ["s0", "s1"]}
        done = check(await R.get(tid, rid), S.Run)
        assert done["status"] == "success"
        assert (await T.get(tid))["status"] == "interrupted"
        replay = await collect(R.join_stream(tid, rid, stream_mode=["values", "updates"], cancel_on_disconnect=False,
                                             last_event_id="0"))
        # the run stopped at a breakpoint: LangGraph's last update is an empty __interrupt__
        assert replay[0].event == "metadata" and replay[-1] == StreamPart("updates", {"__interrupt__": []},
                                                                          replay[-1].id)
        assert replay[-2] == StreamPart("values", {"n": 2, "trail": ["s0", "s1"]}, replay[-2].id)
        # continue past interrupt_before (input=None), with interrupt_after, command.update+goto, wait's options
        got: list[S.RunCreateMetadata] = []
        out = await R.wait(tid, "linear", input=None, interrupt_after=["s2"], on_disconnect="cancel",
                           multitask_strategy="reject", on_run_created=got.append, raise_error=True)
        assert out == {"n": 3, "trail": ["s0", "s1", "s2"]} and got[0]["thread_id"] == tid
        with pytest.warns(DeprecationWarning, match="checkpoint_during"):  # the SDK warns; the server accepts it
            out = await R.wait(tid, "linear", command={"update": {"n": 10}, "goto": "s2"}, checkpoint_during=True)
        assert out["n"] == 11

        runs = check(await R.list(tid, limit=5, offset=0, status="success"), list[S.Run])
        assert len(runs) == 3 and runs[-1]["run_id"] == rid  # newest first
        oldest = await R.list(tid, limit=1, offset=2, select=["run_id", "status"])
        assert oldest == [{"run_id": rid, "status": "success"}]

        # time travel from a checkpoint, by id and by object
        hist = await T.get_history(tid, limit=20)
        fork = next(h for h in hist if h["next"] == ["s1"])["checkpoint"]
        out = await R.wait(tid, "linear", input=None, checkpoint_id=fork["checkpoint_id"])
        assert out["trail"][-2:] == ["s1", "s2"]
        out2 = await R.wait(tid, "linear", input=None, checkpoint=fork)
        assert out2 == out

        # stateless runs and batches
        nid = str(uuid.uuid4())
        assert await R.wait(nid, "linear", input={"n": 0, "trail": []}, if_not_exists="create") == \
            {"n": 3, "trail": ["s0", "s1", "s2"]}
        await expect_status(R.wait(str(uuid.uuid4()), "linear", input={"n": 0, "trail": []}), 404)
        sl = check(await R.create(None, "linear", input={"n": 0, "trail": []}, on_completion="keep"), S.Run)
        assert is_uuid(sl["thread_id"])
        batch = check(await R.create_batch([
            {"assistant_id": "linear", "input": {"n": 0, "trail": []}, "metadata": {"b": 1}},   # type: ignore[typeddict-item]
            {"assistant_id": "hitl", "input": {"amount": 1}}]), list[S.Run])   # type: ignore[typeddict-item]
        assert len(batch) == 2 and batch[0]["metadata"]["b"] == 1
        assert await R.wait(None, "linear", input={"n": 1, "trail": []}, on_completion="delete") == \
            {"n": 4, "trail": ["s0", "s1", "s2"]}
        # the reference server answers 400 (LANGGRAPH_API.md section 2); DuraGraph answers 422. Reported.
        await expect_status(R.wait(None, "hitl", command={"resume": True}), 400)

        # errors: raise_error=False returns the error body, the default raises
        ftid = (await T.create())["thread_id"]
        err = await R.wait(ftid, "failing", input={"key": "k"}, raise_error=False)
        assert err == {"__error__": {"error": "TypeError", "message": "boom"}}
        with pytest.raises(Exception, match="TypeError: boom"):
            await R.wait(ftid, "failing", input={"key": "k"})
        failed = check((await R.list(ftid))[0], S.Run)
        assert failed["status"] == "error"

        # interrupt / resume through wait
        htid = (await T.create())["thread_id"]
        out = await R.wait(htid, "hitl", input={"amount": 3})
        intr = out["__interrupt__"][0]
        check(intr, S.Interrupt)
        out = await R.wait(htid, "hitl", command={"resume": {intr["id"]: True}})
        assert out["trail"] == ["plan", "review", "published"]

        # after_seconds: a delayed run is pending with created_at in the future
        delayed = check(await R.create(tid, "linear", input=None, after_seconds=30), S.Run)
        assert delayed["status"] == "pending"
        assert dt.datetime.fromisoformat(delayed["created_at"]) > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
        await R.cancel(tid, delayed["run_id"])

        # cancel: a pending (enqueued) run without waiting, a running run with wait=True, rollback
        stid = (await T.create())["thread_id"]
        s1 = await R.create(stid, "slow", input={"key": "a"})
        s2 = await R.create(stid, "slow", input={"key": "b"})
        assert s2["status"] == "pending"
        await expect_status(R.create(stid, "slow", input={"key": "x"}, multitask_strategy="reject"), 409)
        assert await R.cancel(stid, s2["run_id"], wait=False, action="interrupt") is None
        await eventually(lambda: _status_is(R, stid, s1["run_id"], "running"), within=10)
        assert await R.cancel(stid, s1["run_id"], wait=True, action="interrupt") == {}
        assert check(await R.get(stid, s1["run_id"]), S.Run)["status"] == "interrupted"
        assert (await R.get(stid, s2["run_id"]))["status"] == "interrupted"
        s3 = await R.create(stid, "slow", input={"key": "c"})
        await R.cancel(stid, s3["run_id"], wait=True, action="rollback")
        await expect_status(R.get(stid, s3["run_id"]), 404)

        # cancel_many: by status (the enqueued run), then by thread + run ids
        s4 = await R.create(stid, "slow", input={"key": "d"})
        s5 = await R.create(stid, "slow", input={"key": "e"})
        await eventually(lambda: _status_is(R, stid, s4["run_id"], "running"), within=10)
        assert await R.cancel_many(status="pending") is None
        assert (await R.get(stid, s5["run_id"]))["status"] == "interrupted"
        assert await R.cancel_many(thread_id=stid, run_ids=[s4["run_id"]], action="interrupt") is None
        await eventually(lambda: _status_is(R, stid, s4["run_id"], "interrupted"), within=10)
        for r in (sl, *batch):
            await eventually(lambda r=r: _finished(R, r["thread_id"], r["run_id"]), within=10)
        await expect_status(R.cancel_many(status="all"), 404)  # nothing left to cancel

        assert await R.delete(stid, s1["run_id"]) is None
        await expect_status(R.get(stid, s1["run_id"]), 404)


async def _status_is(R: Any, tid: str, rid: str, status: str) -> bool:
    return (await R.get(tid, rid))["status"] == status


async def _finished(R: Any, tid: str, rid: str) -> bool:
    try:
        return (await R.get(tid, rid))["status"] not in ("pending", "running")
    except httpx.HTTPStatusError as e:  # a stateless run's temporary thread is deleted when it ends
        return e.response.status_code == 404


async def test_runs_stream_surface(database_url: str, nats_url: str, nats_prefix: str) -> None:
    modes: list[S.StreamMode] = ["values", "updates", "custom", "messages-tuple", "messages", "tasks",
                                 "checkpoints", "debug", "events"]
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as st:
        c = get_client(url=st.url, api_key=None)
        R, T = c.runs, c.threads
        tid = (await T.create())["thread_id"]

        # v1: StreamPart(event, data, id)
        created: list[S.RunCreateMetadata] = []
        parts = await collect(R.stream(tid, "chat", input={"messages": []}, stream_mode=modes, stream_resumable=True,
                                       metadata={"s": 1}, config={"tags": ["s"]}, multitask_strategy="enqueue",
                                       if_not_exists="reject", on_disconnect="continue", durability="sync",
                                       on_run_created=created.append))
        assert all(isinstance(p, StreamPart) and isinstance(p.id, str) for p in parts)
        assert parts[0].event == "metadata" and parts[0].data["run_id"] == created[0]["run_id"]
        events = {p.event for p in parts}
        assert events == {"metadata", "values", "updates", "custom", "messages", "messages/metadata",
                          "messages/partial", "messages/complete", "tasks", "checkpoints", "debug", "events"}
        assert (await R.get(tid, created[0]["run_id"]))["status"] == "success"

        # v2: typed dicts {type, ns, data, interrupts?}, each checked against the SDK's StreamPartV2 members
        v2 = await collect(R.stream(None, "chat", input={"messages": []}, stream_mode=modes, version="v2",
                                    on_completion="delete"))
        for p in v2:
            check_v2_part(p)
        assert {p["type"] for p in v2} >= {"metadata", "values", "updates", "custom", "messages", "tasks",
                                            "checkpoints", "debug"}

        # interrupts in v2 `values` parts are popped into `interrupts`
        htid = (await T.create())["thread_id"]
        hv = await collect(R.stream(htid, "hitl", input={"amount": 2}, stream_mode=["values", "updates"], version="v2"))
        for p in hv:
            check_v2_part(p)
        assert hv[-1]["type"] == "values" and hv[-1]["interrupts"][0]["value"]["amount"] == 2
        resumed = await collect(R.stream(htid, "hitl", command={"resume": True}, stream_mode="updates"))
        assert resumed[-1].data == {"publish": {"trail": ["published"]}}

        # join_stream of a finished run from the start
        rid = created[0]["run_id"]
        joined = await collect(R.join_stream(tid, rid, stream_mode="values", last_event_id="0"))
        assert joined[0].event == "metadata" and {p.event for p in joined} == {"metadata", "values"}

        # documented 501s
        await expect_status(collect(R.stream(tid, "linear", input={"n": 0, "trail": []}, feedback_keys=["k"])),
                            501, "unsupported")
        await expect_status(collect(R.stream(tid, "linear", input={"n": 0, "trail": []},
                                             langsmith_tracing={"project_name": "p"})), 501, "unsupported")
        await expect_status(R.create(tid, "linear", input={"n": 0, "trail": []},
                                     langsmith_tracing={"project_name": "p"}), 501, "unsupported")
        sub_parts = await collect(R.stream(None, "sub", input={"topic": "t"}, stream_subgraphs=True))
        assert any(p.event.startswith("values|sub:") for p in sub_parts)
        ok = await collect(R.stream(None, "linear", input={"n": 0, "trail": []}, stream_subgraphs=True))
        assert ok[-1].data == {"n": 3, "trail": ["s0", "s1", "s2"]}


# -- crons ----------------------------------------------------------------------------------------


async def test_crons_surface(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        c = get_client(url=url, api_key=None)
        C = c.crons
        tid = (await c.threads.create())["thread_id"]
        end = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        cr = check(await C.create_for_thread(tid, "linear", schedule="0 0 1 1 *", input={"n": 0, "trail": []},
                                             metadata={"c": 1}, config={"tags": ["c"]}, interrupt_before=["s1"],
                                             interrupt_after=["s2"], multitask_strategy="enqueue", end_time=end,
                                             enabled=True, timezone="Europe/Paris", stream_mode=["values"],
                                             stream_subgraphs=False, stream_resumable=True, durability="sync"),
                   S.Cron)
        assert cr["thread_id"] == tid and cr["timezone"] == "Europe/Paris" and cr["enabled"] is True
        assert dt.datetime.fromisoformat(cr["end_time"]) == end and cr["next_run_date"] is not None
        cr2 = check(await C.create("linear", schedule="*/5 * * * *", input={"n": 0, "trail": []}, metadata={"c": 2},
                                   on_run_completed="keep", end_time=end, enabled=False, timezone="UTC",
                                   webhook="https://example.com/hook", durability="async"), S.Cron)
        assert cr2["thread_id"] is None and cr2["on_run_completed"] == "keep" and cr2["enabled"] is False
        await expect_status(C.create("linear", schedule="not a cron"), 422)

        up = check(await C.update(cr["cron_id"], schedule="0 12 * * *", end_time=None, input={"n": 1, "trail": []},
                                  metadata={"c": 3}, config={"tags": ["z"]}, context={"model": "m"},
                                  webhook="https://example.com/h2", interrupt_before=["s0"], interrupt_after=["s1"],
                                  on_run_completed="keep", enabled=False, timezone="UTC", stream_mode="updates",
                                  stream_subgraphs=False, stream_resumable=False, durability="exit"), S.Cron)
        assert up["schedule"] == "0 12 * * *" and up["end_time"] is None and up["enabled"] is False
        await expect_status(C.update(cr["cron_id"]), 400)  # an empty body

        found = await C.search(assistant_id="linear", thread_id=tid, enabled=False, metadata={"c": 3}, limit=5,
                               offset=0, sort_by="next_run_date", sort_order="asc",
                               select=["cron_id", "schedule", "next_run_date"])
        assert found == [{"cron_id": cr["cron_id"], "schedule": "0 12 * * *",
                          "next_run_date": found[0]["next_run_date"]}]
        for sort_by in ("cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date",
                        "end_time"):
            assert len(check(await C.search(sort_by=sort_by, sort_order="desc"), list[S.Cron])) == 2
        assert await C.count(assistant_id="linear", thread_id=tid, metadata={"c": 3}) == 1
        assert await C.count() == 2

        assert await C.delete(cr2["cron_id"]) is None
        await expect_status(C.delete(cr2["cron_id"]), 404)
        assert await C.count() == 1


# -- store ----------------------------------------------------------------------------------------


async def test_store_surface(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _):
        c = get_client(url=url, api_key=None)
        St = c.store
        assert await St.put_item(["users", "u1"], "k1", {"a": 1, "b": "x"}, index=False, ttl=10) is None
        assert await St.put_item(["users", "u2"], "k2", {"a": 2}) is None
        await expect_status(St.put_item(["users", "u1"], "k3", {"a": 3}, index=["a"]), 501, "unsupported")

        item = check(await St.get_item(["users", "u1"], "k1", refresh_ttl=True), S.Item)
        assert item["namespace"] == ["users", "u1"] and item["value"] == {"a": 1, "b": "x"}
        assert await St.get_item(["users", "u1"], "missing") is None

        res = check(await St.search_items(["users"], filter={"a": 1}, limit=5, offset=0, refresh_ttl=False),
                    S.SearchItemsResponse)
        assert [i["key"] for i in res["items"]] == ["k1"]
        page = check(await St.search_items(["users"], limit=1, offset=1), S.SearchItemsResponse)
        assert len(page["items"]) == 1
        await expect_status(St.search_items(["users"], query="hello"), 501, "unsupported")
        await expect_status(St.search_items(["users"], filter={"a": {"$gt": 1}}), 501, "unsupported")

        ns = check(await St.list_namespaces(prefix=["users"], suffix=["u1"], max_depth=2, limit=10, offset=0),
                   S.ListNamespaceResponse)
        assert ns == {"namespaces": [["users", "u1"]]}
        assert (await St.list_namespaces(max_depth=1))["namespaces"] == [["users"]]

        assert await St.delete_item(["users", "u1"], "k1") is None
        assert await St.get_item(["users", "u1"], "k1") is None
