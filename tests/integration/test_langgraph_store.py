"""Nodes of a LangGraph graph use the store the way LangGraph documents it (an injected `store`,
`get_store()`, `runtime.store` in an async node); the items are DuraGraph's store items, the same ones
the `/store` API serves."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.config import get_store
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph_sdk import get_client

from tests.integration.api_support import live


class S(TypedDict, total=False):
    user: str
    log: Annotated[list[str], operator.add]
    note: str


class Inner(TypedDict, total=False):
    user: str
    note: str


def remember(state: S, *, store: BaseStore) -> dict[str, Any]:
    store.put(("users", state["user"]), "profile", {"name": state["user"], "visits": 1})
    return {"log": ["remembered"]}


def recall(state: S) -> dict[str, Any]:
    store = get_store()
    item = store.get(("users", state["user"]), "profile")
    note = store.get(("notes", state["user"]), "from-api")
    found = store.search(("users",), filter={"name": state["user"]})
    return {"log": [f"visits={item.value['visits'] if item else None}", f"note={note.value if note else None}",
                    f"found={[i.key for i in found]}"]}


async def bump(state: S, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    item = await runtime.store.aget(("users", state["user"]), "profile")
    assert item is not None
    await runtime.store.aput(("users", state["user"]), "profile", {**item.value, "visits": item.value["visits"] + 1})
    namespaces = await runtime.store.alist_namespaces(prefix=("users",))
    return {"log": [f"bumped, namespaces={[list(n) for n in namespaces]}"]}


def inner_note(state: Inner) -> dict[str, Any]:  # a node of a subgraph: it gets the parent's store
    get_store().put(("notes", state["user"]), "from-subgraph", {"text": "written inside a subgraph"})
    return {"note": "subgraph noted"}


def semantic(state: S, *, store: BaseStore) -> dict[str, Any]:
    store.search(("users",), query="who visited?")
    return {}


def build() -> Any:
    g = StateGraph(S)
    g.add_node("remember", remember)
    g.add_node("recall", recall)
    g.add_node("bump", bump)
    inner = StateGraph(Inner)
    inner.add_node("note", inner_note)
    inner.add_edge(START, "note")
    g.add_node("sub", inner.compile())
    g.add_edge(START, "remember")
    g.add_edge("remember", "recall")
    g.add_edge("recall", "bump")
    g.add_edge("bump", "sub")
    return g.compile()


def build_semantic() -> Any:
    g = StateGraph(S)
    g.add_node("semantic", semantic)
    g.add_edge(START, "semantic")
    return g.compile()


@pytest.mark.parametrize("user", ["ada"])
async def test_nodes_and_the_store_api_share_items(database_url: str, user: str) -> None:
    async with live(database_url, {"g": build(), "semantic": build_semantic()}) as (url, _):
        client = get_client(url=url, api_key=None)
        await client.store.put_item(["notes", user], "from-api", {"text": "written by a client"})
        tid = (await client.threads.create())["thread_id"]
        out = await client.runs.wait(tid, "g", input={"user": user, "log": []})
        assert isinstance(out, dict)
        assert out["log"] == ["remembered", "visits=1", "note={'text': 'written by a client'}",
                              "found=['profile']", "bumped, namespaces=[['users', 'ada']]"]
        assert out["note"] == "subgraph noted"
        item = await client.store.get_item(["users", user], "profile")
        assert item["value"] == {"name": user, "visits": 2}  # the async node's put, seen through the API
        found = await client.store.search_items(["users"])
        assert [i["key"] for i in found["items"]] == ["profile"]
        note = await client.store.get_item(["notes", user], "from-subgraph")
        assert note["value"] == {"text": "written inside a subgraph"}

        run = await client.runs.wait(None, "semantic", input={"user": user}, raise_error=False)
        assert "semantic search" in str(run)
