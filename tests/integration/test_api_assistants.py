"""Assistants over HTTP with the official langgraph-sdk client, against real Postgres."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from engine import END, START, StateGraph
from tests.integration.server import serve_api

NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


class State(TypedDict):
    n: int
    trail: Annotated[list[str], operator.add]


def step(name: str) -> Any:
    def node(state: State) -> dict[str, Any]:
        return {"n": state["n"] + 1, "trail": [name]}

    return node


def _build() -> dict[str, object]:
    inner = StateGraph(State)
    inner.add_node("x", step("x"))
    inner.add_edge(START, "x")
    inner.add_edge("x", END)
    sub = inner.compile()

    outer = StateGraph(State)
    outer.add_node("a", step("a"))
    outer.add_node("child", sub)
    outer.add_edge(START, "a")
    outer.add_edge("a", "child")
    outer.add_edge("child", END)

    plain = StateGraph(State)
    plain.add_node("only", step("only"))
    plain.add_edge(START, "only")
    plain.add_edge("only", END)
    return {"agent": outer.compile(), "other": plain.compile()}


GRAPHS = _build()


@pytest.fixture
def api_graphs() -> dict[str, object]:
    return GRAPHS


async def test_system_assistants_one_per_graph_stable_across_restarts(database_url: str) -> None:
    ids = []
    for _ in range(2):
        with serve_api(database_url, GRAPHS) as url:
            client = get_client(url=url, api_key=None)
            found = await client.assistants.search(metadata={"created_by": "system"}, sort_by="graph_id",
                                                   sort_order="asc")
            ids.append([a["assistant_id"] for a in found])
            assert [a["graph_id"] for a in found] == ["agent", "other"]
            assert all(a["version"] == 1 and a["name"] == a["graph_id"] for a in found)
    assert ids[0] == ids[1] == [str(uuid.uuid5(NAMESPACE, "agent")), str(uuid.uuid5(NAMESPACE, "other"))]


async def test_create_get_and_graph_id_as_assistant_id(client: LangGraphClient) -> None:
    a = await client.assistants.create("agent", config={"tags": ["t"]}, context={"model": "m"},
                                       metadata={"team": "red"}, name="Red", description="the red one")
    assert a["version"] == 1 and a["graph_id"] == "agent" and a["name"] == "Red"
    assert a["config"] == {"tags": ["t"]} and a["context"] == {"model": "m"} and a["description"] == "the red one"
    assert "+00:00" in a["created_at"]
    assert await client.assistants.get(a["assistant_id"]) == a
    system = await client.assistants.get("agent")
    assert system["assistant_id"] == str(uuid.uuid5(NAMESPACE, "agent"))
    assert system["metadata"] == {"created_by": "system"}


async def test_create_if_exists_and_unknown_graph(client: LangGraphClient) -> None:
    aid = str(uuid.uuid4())
    first = await client.assistants.create("agent", assistant_id=aid, name="one")
    with pytest.raises(ConflictError):
        await client.assistants.create("agent", assistant_id=aid, name="two")
    same = await client.assistants.create("agent", assistant_id=aid, name="two", if_exists="do_nothing")
    assert same == first
    with pytest.raises(NotFoundError, match="Graph 'nope' not found"):
        await client.assistants.create("nope")
    with pytest.raises(UnprocessableEntityError, match="Invalid assistant ID"):
        await client.assistants.create("agent", assistant_id="not-a-uuid")


async def test_get_unknown_and_invalid_ids(client: LangGraphClient) -> None:
    with pytest.raises(NotFoundError):
        await client.assistants.get(str(uuid.uuid4()))
    with pytest.raises(UnprocessableEntityError, match="must be a UUID"):
        await client.assistants.get("no-such-graph")


async def test_update_versions_and_set_latest(client: LangGraphClient) -> None:
    a = await client.assistants.create("agent", metadata={"a": 1}, config={"tags": ["v1"]}, name="v1")
    aid = a["assistant_id"]
    b = await client.assistants.update(aid, metadata={"b": 2}, config={"tags": ["v2"]}, name="v2")
    assert b["version"] == 2 and b["metadata"] == {"a": 1, "b": 2} and b["config"] == {"tags": ["v2"]}
    assert b["name"] == "v2" and b["graph_id"] == "agent"
    c = await client.assistants.update(aid, graph_id="other")
    assert c["version"] == 3 and c["graph_id"] == "other" and c["name"] == "v2"

    versions = await client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["name"] == "v1" and versions[2]["config"] == {"tags": ["v1"]}
    assert [v["version"] for v in await client.assistants.get_versions(aid, limit=1, offset=1)] == [2]
    assert [v["version"] for v in await client.assistants.get_versions(aid, metadata={"b": 2})] == [3, 2]

    back = await client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["name"] == "v1" and back["graph_id"] == "agent"
    assert (await client.assistants.get(aid))["version"] == 1
    d = await client.assistants.update(aid, name="v4")
    assert d["version"] == 4 and d["metadata"] == {"a": 1}
    with pytest.raises(NotFoundError):
        await client.assistants.set_latest(aid, 99)
    with pytest.raises(NotFoundError):
        await client.assistants.update(str(uuid.uuid4()), name="x")
    with pytest.raises(NotFoundError, match="Graph 'nope'"):
        await client.assistants.update(aid, graph_id="nope")


async def test_search_count_and_pagination(client: LangGraphClient, base_url: str) -> None:
    for i in range(5):
        await client.assistants.create("other" if i % 2 else "agent", metadata={"i": i, "kind": "test"},
                                       name=f"Bot-{i}")
    found = await client.assistants.search(metadata={"kind": "test"}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in found] == [f"Bot-{i}" for i in range(5)]
    assert len(await client.assistants.search(graph_id="other", metadata={"kind": "test"})) == 2
    assert [a["name"] for a in await client.assistants.search(name="bOT-3")] == ["Bot-3"]
    page = await client.assistants.search(metadata={"kind": "test"}, sort_by="name", sort_order="desc", limit=2,
                                          offset=1, select=["assistant_id", "name"])
    assert [a["name"] for a in page] == ["Bot-3", "Bot-2"]
    assert set(page[0]) == {"assistant_id", "name"}

    obj = await client.assistants.search(metadata={"kind": "test"}, limit=2, response_format="object")
    assert len(obj["assistants"]) == 2 and obj["next"] == "2"
    last = await client.assistants.search(metadata={"kind": "test"}, limit=2, offset=4, response_format="object")
    assert len(last["assistants"]) == 1 and last["next"] is None

    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/assistants/search", json={"limit": 3, "offset": 0})
        assert r.headers["X-Pagination-Total"] == "7" and r.headers["X-Pagination-Next"] == "3"
        r = await http.post("/assistants/search", json={"sort_by": "nope"})
        assert r.status_code == 422 and r.json()["code"] == "invalid_input"
        r = await http.post("/assistants/search", json={"select": ["bogus"]})
        assert r.status_code == 422

    assert await client.assistants.count() == 7
    assert await client.assistants.count(metadata={"kind": "test"}, graph_id="agent") == 3
    assert await client.assistants.count(name="bot-") == 5


async def test_delete_and_delete_threads(client: LangGraphClient) -> None:
    a = await client.assistants.create("agent")
    aid = a["assistant_id"]
    mine = await client.threads.create(metadata={"assistant_id": aid})
    other = await client.threads.create(metadata={"assistant_id": str(uuid.uuid4())})
    await client.crons.create(aid, schedule="* * * * *")
    await client.crons.create("agent", schedule="* * * * *")
    await client.assistants.delete(aid, delete_threads=True)
    assert await client.crons.count() == 1
    with pytest.raises(NotFoundError):
        await client.assistants.get(aid)
    with pytest.raises(NotFoundError):
        await client.threads.get(mine["thread_id"])
    assert (await client.threads.get(other["thread_id"]))["thread_id"] == other["thread_id"]
    with pytest.raises(NotFoundError):
        await client.assistants.delete(aid)


async def test_graph_schemas_and_subgraphs(client: LangGraphClient) -> None:
    drawing = await client.assistants.get_graph("agent")
    assert [n["id"] for n in drawing["nodes"]] == ["__start__", "a", "child", "__end__"]
    assert {(e["source"], e["target"]) for e in drawing["edges"]} == {
        ("__start__", "a"), ("a", "child"), ("child", "__end__")}
    xray = await client.assistants.get_graph("agent", xray=True)
    assert "child:x" in [n["id"] for n in xray["nodes"]]
    assert {(e["source"], e["target"]) for e in xray["edges"]} == {
        ("__start__", "a"), ("a", "child:x"), ("child:x", "__end__")}

    a = await client.assistants.create("agent")
    schemas = await client.assistants.get_schemas(a["assistant_id"])
    assert schemas["graph_id"] == "agent"
    assert set(schemas["state_schema"]["properties"]) == {"n", "trail"}
    assert set(schemas) == {"graph_id", "input_schema", "output_schema", "state_schema", "config_schema",
                            "context_schema"}

    subs = await client.assistants.get_subgraphs("agent")
    assert list(subs) == ["child"] and subs["child"]["state_schema"]["properties"]["n"]["type"] == "integer"
    assert list(await client.assistants.get_subgraphs("agent", namespace="child")) == ["child"]
    assert await client.assistants.get_subgraphs("other") == {}


async def test_errors_are_detail_and_code(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/assistants", content=b"{bad json", headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500 and set(r.json()) == {"detail", "code"}
        r = await http.post("/assistants", json={"graph_id": 3})
        assert r.status_code == 422 and r.json()["code"] == "validation_error" and "graph_id" in r.json()["detail"]
        r = await http.post("/assistants", json=["not", "an", "object"])
        assert r.status_code == 422
        r = await http.post("/assistants", json={"graph_id": "agent", "if_exists": "explode"})
        assert r.status_code == 422
        r = await http.post("/assistants/search", json={"limit": -1})
        assert r.status_code == 422
        r = await http.post("/assistants", json={"graph_id": "agent", "unknown_key": True, "metadata": None})
        assert r.status_code == 200
        r = await http.get("/no/such/route")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = await http.get(f"/assistants/{uuid.uuid4()}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = await http.put("/assistants")
        assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
        r = await http.post("/assistants", json={"graph_id": "agent", "name": "nul\u0000byte"})
        assert r.status_code == 422 and set(r.json()) == {"detail", "code"}


async def test_system_routes_and_openapi(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert (await http.get("/ok")).json()["ok"] is True
        info = (await http.get("/info")).json()
        assert info["version"] and info["flags"]["assistants"] is True and info["flags"]["crons"] is True
        spec = (await http.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.") and "/assistants/search" in spec["paths"]
        assert "/threads/{thread_id}" in spec["paths"]
        assert (await http.get("/docs")).status_code == 200
