"""Thread rows over HTTP with the official langgraph-sdk client, against real Postgres.

Status, checkpoints and runs belong to the run engine; here they are written with SQL or update_state (a
thread's values are read from its head checkpoint)."""

from __future__ import annotations

import uuid
from typing import TypedDict

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from engine import END, START, StateGraph
from tests.support import sql_rows


class State(TypedDict):
    n: int


class Notes(TypedDict, total=False):
    k: int
    messages: list[dict[str, str]]


def _graph() -> object:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"n": 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g.compile()


def _notes() -> object:
    g = StateGraph(Notes)
    g.add_node("w", lambda s: {})
    g.add_edge(START, "w")
    g.add_edge("w", END)
    return g.compile()


@pytest.fixture
def api_graphs() -> dict[str, object]:
    return {"agent": _graph(), "notes": _notes()}


async def _checkpoints(client: LangGraphClient, database_url: str, thread_id: str, n: int) -> list[uuid.UUID]:
    """A chain of checkpoints (oldest first) made by update_state, the thread's head at values {"n": n - 1}."""
    tid = uuid.UUID(thread_id)
    await sql_rows(database_url, "UPDATE threads SET graph_id = 'agent' WHERE thread_id = $1", tid)
    for i in range(n):
        await client.threads.update_state(thread_id, {"n": i}, as_node="a")
    rows = await sql_rows(database_url, "SELECT checkpoint_id FROM checkpoints WHERE thread_id = $1 "
                          "ORDER BY created_at", tid)
    return [r["checkpoint_id"] for r in rows]


async def test_create_get_update_delete(client: LangGraphClient, database_url: str) -> None:
    t = await client.threads.create(metadata={"user": "u1"}, graph_id="agent")
    assert t["status"] == "idle" and t["values"] is None and t["interrupts"] == {}
    assert t["metadata"] == {"user": "u1", "graph_id": "agent"}
    assert uuid.UUID(t["thread_id"]).version == 7 and "+00:00" in t["created_at"]
    assert await client.threads.get(t["thread_id"]) == t

    tid = str(uuid.uuid4())
    mine = await client.threads.create(thread_id=tid)
    assert mine["thread_id"] == tid
    with pytest.raises(ConflictError, match="already exists"):
        await client.threads.create(thread_id=tid)
    assert (await client.threads.create(thread_id=tid, if_exists="do_nothing"))["thread_id"] == tid

    updated = await client.threads.update(t["thread_id"], metadata={"extra": 1})
    assert updated["metadata"] == {"user": "u1", "graph_id": "agent", "extra": 1}
    assert updated["updated_at"] >= t["updated_at"]
    assert await client.threads.update(t["thread_id"], metadata={"x": 2}, return_minimal=True) is None
    assert (await client.threads.get(t["thread_id"]))["metadata"]["x"] == 2

    # delete cascades to runs
    run_id = uuid.uuid4()
    await sql_rows(database_url,
               "INSERT INTO runs (run_id, thread_id, assistant_id, graph_id) VALUES ($1, $2, $3, 'agent')",
               run_id, uuid.UUID(t["thread_id"]), uuid.uuid4())
    await client.threads.delete(t["thread_id"])
    with pytest.raises(NotFoundError, match="not found"):
        await client.threads.get(t["thread_id"])
    assert await sql_rows(database_url, "SELECT 1 FROM runs WHERE run_id = $1", run_id) == []
    with pytest.raises(NotFoundError):
        await client.threads.delete(t["thread_id"])
    with pytest.raises(NotFoundError):
        await client.threads.update(t["thread_id"], metadata={})


async def test_invalid_ids_and_unsupported_fields(client: LangGraphClient, base_url: str) -> None:
    with pytest.raises(UnprocessableEntityError, match="Invalid thread ID: must be a UUID"):
        await client.threads.get("not-a-uuid")
    with pytest.raises(UnprocessableEntityError, match="Invalid thread ID"):
        await client.threads.create(thread_id="nope")
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/threads", json={"supersteps": [{"updates": [{"values": {}, "as_node": "a"}]}]})
        assert r.status_code == 422  # supersteps need the thread's graph
        assert r.json() == {"detail": "supersteps need the thread's graph: pass graph_id", "code": "invalid_input"}
        r = await http.post("/threads", json={"graph_id": "g", "supersteps": [{"updates": [
            {"values": {}, "as_node": "a"}, {"values": {}, "as_node": "b"}]}]})
        assert r.status_code == 501 and r.json()["code"] == "unsupported"
        r = await http.post("/threads", json={"ttl": {"ttl": 5, "strategy": "explode"}})
        assert r.status_code == 422
        r = await http.post("/threads", json={"metadata": "not an object"})
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
        r = await http.post("/threads/search", json={"status": "sleeping"})
        assert r.status_code == 422
        r = await http.post("/threads", json={"strict_resume": True, "if_exists": None})
        assert r.status_code == 200
        r = await http.post("/threads")  # no body at all: every field is optional
        assert r.status_code == 200 and r.json()["status"] == "idle"
        r = await http.post("/threads/count")
        assert r.status_code == 200 and r.json() == 2


async def test_ttl(client: LangGraphClient) -> None:
    t = await client.threads.create(ttl=60)
    assert "ttl" not in t
    got = await client.threads.get(t["thread_id"], include=["ttl"])
    assert got["ttl"]["strategy"] == "delete" and got["ttl"]["ttl_minutes"] == 60
    assert got["ttl"]["expires_at"] > got["updated_at"]
    await client.threads.update(t["thread_id"], metadata={}, ttl={"ttl": 5, "strategy": "delete"})
    assert (await client.threads.get(t["thread_id"], include=["ttl"]))["ttl"]["ttl_minutes"] == 5


async def test_status_error_comes_from_latest_run(client: LangGraphClient, database_url: str) -> None:
    t = await client.threads.create()
    tid = uuid.UUID(t["thread_id"])
    insert = ("INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status, error, created_at) "
              "VALUES ($1, $2, $3, 'agent', 'error', $4, now() + $5 * interval '1 second')")
    await sql_rows(database_url, insert, uuid.uuid4(), tid, uuid.uuid4(), {"error": "Old", "message": "old"}, 0)
    await sql_rows(database_url, insert, uuid.uuid4(), tid, uuid.uuid4(), {"error": "TypeError", "message": "boom"}, 1)
    assert "error" not in await client.threads.get(t["thread_id"])
    await sql_rows(database_url, "UPDATE threads SET status = 'error' WHERE thread_id = $1", tid)
    got = await client.threads.get(t["thread_id"])
    assert got["status"] == "error" and got["error"] == {"error": "TypeError", "message": "boom"}


async def test_search_count_sort_and_extract(client: LangGraphClient, base_url: str, database_url: str) -> None:
    made = []
    for i in range(4):
        made.append(await client.threads.create(metadata={"i": i, "group": "g"}))
    for t in made[1:3]:
        await sql_rows(database_url, "UPDATE threads SET graph_id = 'notes' WHERE thread_id = $1",
                       uuid.UUID(t["thread_id"]))
    await client.threads.update_state(made[1]["thread_id"], {"messages": [{"content": "hi"}, {"content": "last"}],
                                                             "k": 1}, as_node="w")
    await client.threads.update_state(made[2]["thread_id"], {"k": 2}, as_node="w")
    await sql_rows(database_url, "UPDATE threads SET status = 'interrupted' WHERE thread_id = $1",
                   uuid.UUID(made[1]["thread_id"]))

    found = await client.threads.search(metadata={"group": "g"})
    assert [t["metadata"]["i"] for t in found] == [3, 2, 1, 0]  # created_at desc by default
    asc = await client.threads.search(metadata={"group": "g"}, sort_by="created_at", sort_order="asc", limit=2,
                                      offset=1)
    assert [t["metadata"]["i"] for t in asc] == [1, 2]
    assert [t["thread_id"] for t in await client.threads.search(status="interrupted")] == [made[1]["thread_id"]]
    assert [t["thread_id"] for t in await client.threads.search(values={"k": 2})] == [made[2]["thread_id"]]
    # values filters are JSON containment, as jsonb's @> (read from each thread's head checkpoint)
    contained = await client.threads.search(values={"messages": [{"content": "last"}]})
    assert [t["thread_id"] for t in contained] == [made[1]["thread_id"]]
    assert await client.threads.search(values={"messages": [{"content": "nope"}]}) == []
    assert [t["thread_id"] for t in await client.threads.search(values={"k": 2}, limit=1, offset=0)] == [
        made[2]["thread_id"]]
    assert await client.threads.search(values={"k": 2}, offset=1) == []
    ids = [made[0]["thread_id"], made[3]["thread_id"]]
    assert {t["thread_id"] for t in await client.threads.search(ids=ids)} == set(ids)
    by_status = await client.threads.search(sort_by="status", sort_order="asc")
    assert by_status[0]["status"] == "idle" and by_status[-1]["status"] == "interrupted"

    slim = await client.threads.search(select=["thread_id", "status"], limit=1)
    assert set(slim[0]) == {"thread_id", "status"}
    extracted = await client.threads.search(
        ids=[made[1]["thread_id"]], extract={"last": "values.messages[-1].content", "nope": "values.zz[3]"})
    assert extracted[0]["extracted"] == {"last": "last", "nope": None}

    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/threads/search", json={"limit": 3, "offset": 0})
        assert r.headers["X-Pagination-Total"] == "4" and r.headers["X-Pagination-Next"] == "3"
        r = await http.post("/threads/search", json={"limit": 3, "offset": 3})
        assert "X-Pagination-Next" not in r.headers and len(r.json()) == 1
        r = await http.post("/threads/search", json={"ids": ["bad"]})
        assert r.status_code == 422

    assert await client.threads.count() == 4
    assert await client.threads.count(metadata={"i": 1}) == 1
    assert await client.threads.count(status="idle") == 3
    assert await client.threads.count(values={"k": 1}) == 1


async def test_copy_remaps_checkpoints(client: LangGraphClient, database_url: str) -> None:
    t = await client.threads.create(metadata={"owner": "me"})
    old = await _checkpoints(client, database_url, t["thread_id"], 3)
    copy = await client.threads.copy(t["thread_id"])
    assert copy["thread_id"] != t["thread_id"]
    assert copy["metadata"] == {"owner": "me"} and copy["values"] == {"n": 2}

    rows = await sql_rows(database_url, "SELECT *, duragraph_checkpoint_doc(checkpoint, checkpoint_id, "
                          "parent_checkpoint_id, "
                          "step, checkpoint_ns) AS doc FROM checkpoints "
                          "WHERE thread_id = $1 ORDER BY created_at", uuid.UUID(copy["thread_id"]))
    assert len(rows) == len(old) >= 3
    new_ids = [r["checkpoint_id"] for r in rows]
    assert not set(new_ids) & set(old)
    assert rows[0]["parent_checkpoint_id"] is None
    assert [r["parent_checkpoint_id"] for r in rows[1:]] == new_ids[:-1]
    assert [r["doc"]["id"] for r in rows] == [str(i) for i in new_ids]  # the document as queries read it
    assert rows[-1]["doc"]["parent_id"] == str(new_ids[-2])
    history = await client.threads.get_history(copy["thread_id"], limit=10)
    assert len(history) == len(rows) and all(h["metadata"]["thread_id"] == copy["thread_id"] for h in history)
    head = await sql_rows(database_url, "SELECT checkpoint_id FROM threads WHERE thread_id = $1",
                      uuid.UUID(copy["thread_id"]))
    assert head[0]["checkpoint_id"] == new_ids[-1]
    # the original is untouched
    assert len(await sql_rows(database_url, "SELECT 1 FROM checkpoints WHERE thread_id = $1",
                          uuid.UUID(t["thread_id"]))) == len(old)
    with pytest.raises(NotFoundError):
        await client.threads.copy(str(uuid.uuid4()))


async def test_prune(client: LangGraphClient, database_url: str) -> None:
    a = await client.threads.create()
    b = await client.threads.create()
    c = await client.threads.create()
    ids = await _checkpoints(client, database_url, c["thread_id"], 3)

    result = await client.threads.prune([c["thread_id"], str(uuid.uuid4())], strategy="keep_latest")
    assert result == {"pruned_count": 1}
    rows = await sql_rows(database_url, "SELECT *, duragraph_checkpoint_doc(checkpoint, checkpoint_id, "
                          "parent_checkpoint_id, "
                          "step, checkpoint_ns) AS doc FROM checkpoints "
                          "WHERE thread_id = $1", uuid.UUID(c["thread_id"]))
    assert [r["checkpoint_id"] for r in rows] == [ids[-1]]
    assert rows[0]["parent_checkpoint_id"] is None and rows[0]["doc"]["parent_id"] is None
    assert (await client.threads.get(c["thread_id"]))["values"] == {"n": 2}

    assert await client.threads.prune([a["thread_id"], b["thread_id"], str(uuid.uuid4())]) == {"pruned_count": 2}
    with pytest.raises(NotFoundError):
        await client.threads.get(a["thread_id"])
    assert (await client.threads.get(c["thread_id"]))["thread_id"] == c["thread_id"]
