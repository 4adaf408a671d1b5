"""Custom auth (a `langgraph_sdk.Auth` named by the config) and API-key mode, driven through
langgraph-sdk: two users, and every SDK route refuses or filters the other user's resources."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from api.auth import CustomAuth, Security, filters_to_scope
from duragraph.config import load_auth, load_graphs, read_config
from duragraph.settings import Settings
from engine.durable import access, threads
from engine.durable.db import connect
from tests.integration.api_support import live_stack
from tests.integration.server import serve_api

CONFIG = Path(__file__).parent / "auth_app" / "duragraph.json"


def _client(url: str, token: str) -> LangGraphClient:
    return get_client(url=url, api_key=None, headers={"Authorization": f"Bearer {token}"})


async def _status(call: Awaitable[Any]) -> int:
    """The HTTP status an SDK call fails with (200 when it succeeds)."""
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


async def _stream_status(parts: AsyncIterator[Any]) -> int:
    try:
        async for _ in parts:
            pass
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


@pytest.fixture
async def stack(database_url: str, nats_url: str, nats_prefix: str) -> AsyncIterator[str]:
    config = read_config(CONFIG)
    graphs = load_graphs(config)
    security = Security(custom=CustomAuth(load_auth(config)))
    async with live_stack(database_url, nats_url, nats_prefix, graphs, heartbeat=0.5,
                          app_kw={"security": security}) as s:
        yield s.url


async def test_requests_without_valid_credentials_are_refused(stack: str) -> None:
    async with httpx.AsyncClient(base_url=stack) as http:
        for headers in ({}, {"Authorization": "Bearer nobody"}, {"Authorization": "Basic alice-token"}):
            r = await http.post("/threads/search", json={}, headers=headers)
            assert r.status_code == 401, r.text
            assert r.json() == {"detail": "Invalid or missing bearer token", "code": "unauthorized"}
        assert (await http.get("/ok")).status_code == 200  # liveness stays open
        assert (await http.get("/info")).status_code == 200


async def test_two_users_see_only_their_own_resources(stack: str) -> None:
    alice, bob = _client(stack, "alice-token"), _client(stack, "bob-token")

    # alice's thread and run (it stops at an interrupt); the node sees alice as the caller
    a_thread = await alice.threads.create(metadata={"topic": "a"})
    assert a_thread["metadata"]["owner"] == "alice"
    tid = a_thread["thread_id"]
    out = await alice.runs.wait(tid, "agent", input={})
    assert out["who"] == "alice|alice" and "__interrupt__" in out
    [a_run] = await alice.runs.list(tid)
    rid = a_run["run_id"]
    b_thread = await bob.threads.create(metadata={"topic": "b"})
    assert b_thread["metadata"]["owner"] == "bob"

    # searches and counts are filtered (even when bob asks for alice's owner or ids explicitly)
    assert [t["thread_id"] for t in await bob.threads.search()] == [b_thread["thread_id"]]
    assert tid not in [t["thread_id"] for t in await bob.threads.search(metadata={"owner": "alice"})]
    assert await bob.threads.search(ids=[tid]) == []
    assert await bob.threads.count() == 1
    assert await alice.threads.count() == 1

    # every route addressing alice's thread or run answers bob 404 (as if it did not exist)
    not_found = {
        "threads.get": lambda: bob.threads.get(tid),
        "threads.update": lambda: bob.threads.update(tid, metadata={"owner": "bob"}),
        "threads.copy": lambda: bob.threads.copy(tid),
        "threads.get_state": lambda: bob.threads.get_state(tid),
        "threads.update_state": lambda: bob.threads.update_state(tid, {"answer": "x"}),
        "threads.get_history": lambda: bob.threads.get_history(tid),
        "runs.list": lambda: bob.runs.list(tid),
        "runs.get": lambda: bob.runs.get(tid, rid),
        "runs.join": lambda: bob.runs.join(tid, rid),
        "runs.cancel": lambda: bob.runs.cancel(tid, rid),
        "runs.cancel_many": lambda: bob.runs.cancel_many(run_ids=[rid]),
        "runs.create": lambda: bob.runs.create(tid, "agent", command={"resume": "bob"}),
        "runs.wait": lambda: bob.runs.wait(tid, "agent", command={"resume": "bob"}),
        "crons.create_for_thread": lambda: bob.crons.create_for_thread(tid, "agent", schedule="0 0 * * *"),
    }
    for name, call in not_found.items():
        assert await _status(call()) == 404, name
    assert await _stream_status(bob.runs.stream(tid, "agent", command={"resume": "bob"})) == 404
    assert await _stream_status(bob.runs.join_stream(tid, rid)) == 404
    assert await _stream_status(await bob.threads.join_stream(tid)) == 404
    # an auth handler that returns False is 403; bob may not delete anything, not even his own thread
    assert await _status(bob.threads.delete(b_thread["thread_id"])) == 403
    assert await _status(bob.threads.delete(tid)) == 403
    assert await _status(bob.runs.delete(tid, rid)) == 403

    # nothing of bob's reached alice's thread: it still waits on alice's interrupt, with one run
    state = await alice.threads.get_state(tid)
    assert state["next"] == ["ask"] and state["values"]["who"] == "alice|alice"
    assert len(await alice.runs.list(tid)) == 1

    # alice resumes through a stream and joins it
    parts = [p async for p in alice.runs.stream(tid, "agent", command={"resume": "yes"}, stream_mode="values")]
    assert parts[-1].data["answer"] == "yes"
    runs = await alice.runs.list(tid)
    assert len(runs) == 2
    assert (await alice.runs.join(tid, runs[0]["run_id"]))["answer"] == "yes"

    # a thread created by a run with if_not_exists=create belongs to its creator
    new_tid = str(uuid.uuid4())
    await bob.runs.wait(new_tid, "agent", input={}, if_not_exists="create")
    assert (await bob.threads.get(new_tid))["metadata"]["owner"] == "bob"
    assert await _status(alice.threads.get(new_tid)) == 404

    # assistants are stamped and filtered the same way
    a_asst = await alice.assistants.create("agent", name="alice's", metadata={"k": 1})
    assert a_asst["metadata"]["owner"] == "alice"
    assert await _status(bob.assistants.get(a_asst["assistant_id"])) == 404
    assert await _status(bob.assistants.update(a_asst["assistant_id"], name="mine")) == 404
    assert await _status(bob.assistants.get_graph(a_asst["assistant_id"])) == 404
    assert await bob.assistants.search() == []
    assert await bob.assistants.count() == 0
    assert [a["assistant_id"] for a in await alice.assistants.search()] == [a_asst["assistant_id"]]
    # running someone else's assistant (its config would become the run's) is refused like reading it
    assert await _status(bob.runs.create(b_thread["thread_id"], a_asst["assistant_id"], input={})) == 404

    # crons too
    cron = await alice.crons.create_for_thread(tid, "agent", schedule="0 0 1 1 *")
    assert await bob.crons.search() == []
    assert await bob.crons.count() == 0
    assert len(await alice.crons.search()) == 1
    assert cron["user_id"] == "alice"
    async with httpx.AsyncClient(base_url=stack) as http:  # (the SDK has no crons.get)
        got = await http.get(f"/runs/crons/{cron['cron_id']}", headers={"Authorization": "Bearer bob-token"})
        assert got.status_code == 404
    assert await _status(bob.crons.update(cron["cron_id"], schedule="0 1 1 1 *")) == 404
    assert await _status(bob.crons.delete(cron["cron_id"])) == 404
    assert [c["schedule"] for c in await alice.crons.search()] == ["0 0 1 1 *"]

    # the store handler prefixes each namespace with the caller: same key, two users, two items
    await alice.store.put_item(["notes"], "k", {"by": "alice"})
    await bob.store.put_item(["notes"], "k", {"by": "bob"})
    assert (await alice.store.get_item(["notes"], "k"))["value"] == {"by": "alice"}
    assert (await bob.store.get_item(["notes"], "k"))["value"] == {"by": "bob"}
    assert [i["value"] for i in (await bob.store.search_items(["notes"]))["items"]] == [{"by": "bob"}]

    # alice may delete her own thread
    await alice.threads.delete(tid)
    assert await alice.threads.count() == 0


def _open_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum("the API is OPEN" in r.getMessage() for r in caplog.records)


async def test_an_open_api_says_so_once(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="duragraph.api.auth"):
        with serve_api(database_url, {}) as url:
            async with httpx.AsyncClient(base_url=url) as http:
                for _ in range(3):
                    assert (await http.post("/threads/search", json={})).status_code == 200
        assert _open_warnings(caplog) == 1


async def test_api_key_mode(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=database_url, api_keys=("k-one", "k-two"))
    with caplog.at_level(logging.WARNING, logger="duragraph.api.auth"), \
            serve_api(database_url, {}, settings=settings) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            missing = await http.post("/threads/search", json={})
            assert missing.status_code == 401
            assert missing.json() == {"detail": "Missing x-api-key header", "code": "unauthorized"}
            wrong = await http.post("/threads/search", json={}, headers={"x-api-key": "nope"})
            assert wrong.status_code == 403
            assert wrong.json() == {"detail": "Invalid API key", "code": "forbidden"}
        client = get_client(url=url, api_key="k-two")
        thread = await client.threads.create()
        assert (await client.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]
    assert _open_warnings(caplog) == 0


def test_config_auth_entry_is_validated(tmp_path: Path) -> None:
    from duragraph.config import ConfigError

    bad = tmp_path / "duragraph.json"
    bad.write_text('{"graphs": {"g": "./g.py:graph"}, "auth": "./auth.py:auth"}')
    with pytest.raises(ConfigError, match='"auth" must be'):
        read_config(bad)
    (tmp_path / "auth.py").write_text("auth = 42\n")
    bad.write_text('{"graphs": {"g": "./g.py:graph"}, "auth": {"path": "./auth.py:auth"}}')
    with pytest.raises(ConfigError, match=r"not a langgraph_sdk\.Auth"):
        load_auth(read_config(bad))
    (tmp_path / "token_auth.py").write_text(
        "from langgraph_sdk import Auth\nauth = Auth()\n\n@auth.authenticate\nasync def who(token: str) -> str:\n"
        "    return token\n")
    bad.write_text('{"graphs": {"g": "./g.py:graph"}, "auth": {"path": "./token_auth.py:auth"}}')
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['token'\]"):
        CustomAuth(load_auth(read_config(bad)))


def test_filters_become_one_metadata_containment() -> None:
    assert filters_to_scope({"owner": "a"}) == {"owner": "a"}
    assert filters_to_scope({"owner": {"$eq": "a"}, "tags": {"$contains": "x"}}) == {"owner": "a", "tags": ["x"]}
    assert filters_to_scope({"tags": {"$contains": ["x", "y"]}}) == {"tags": ["x", "y"]}
    with pytest.raises(ValueError, match="unsupported operator"):
        filters_to_scope({"n": {"$gt": 1}})


async def test_scopes_are_applied_by_the_queries(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        a = (await threads.create(conn, metadata={"owner": "a", "tags": ["x", "y"]}))["thread_id"]
        b = (await threads.create(conn, metadata={"owner": "b", "tags": ["y"]}))["thread_id"]
        tagged_x = filters_to_scope({"tags": {"$contains": "x"}})
        assert [t["thread_id"] for t in (await threads.search(conn, scope=tagged_x))[0]] == [a]
        assert await threads.count(conn, scope=filters_to_scope({"tags": {"$contains": "y"}})) == 2
        assert await threads.count(conn, scope={"owner": "c"}) == 0
        assert await access.thread_in_scope(conn, b, {"owner": "a"}) is False
        assert await access.thread_in_scope(conn, b, None) is True
        assert await access.thread_in_scope(conn, uuid.uuid4(), None) is None
        assert await access.threads_in_scope(conn, [a, b], {"owner": "b"}) == [b]
    finally:
        await conn.close()
