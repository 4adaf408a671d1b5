"""The key-value store over HTTP with the official langgraph-sdk client, against real Postgres."""

from __future__ import annotations

import httpx
from langgraph_sdk.client import LangGraphClient

from engine.durable import kv
from engine.durable.db import connect
from tests.support import sql_rows


async def _expire(database_url: str, namespace: list[str], key: str) -> None:
    await sql_rows(database_url, "UPDATE store_items SET expires_at = now() - interval '1 second' "
               "WHERE namespace = $1 AND key = $2", namespace, key)


async def test_put_get_overwrite_delete(client: LangGraphClient) -> None:
    await client.store.put_item(["users", "u1"], "prefs", {"theme": "dark"})
    item = await client.store.get_item(["users", "u1"], "prefs")
    assert item["namespace"] == ["users", "u1"] and item["key"] == "prefs" and item["value"] == {"theme": "dark"}
    assert "+00:00" in item["created_at"]
    await client.store.put_item(["users", "u1"], "prefs", {"theme": "light"})
    again = await client.store.get_item(["users", "u1"], "prefs")
    assert again["value"] == {"theme": "light"} and again["created_at"] == item["created_at"]
    assert again["updated_at"] >= item["updated_at"]
    assert await client.store.get_item(["users", "u1"], "missing") is None
    assert await client.store.get_item(["users"], "prefs") is None
    await client.store.delete_item(["users", "u1"], "prefs")
    assert await client.store.get_item(["users", "u1"], "prefs") is None
    await client.store.delete_item(["users", "u1"], "prefs")  # deleting a missing item is fine


async def test_ttl_expiry_and_refresh(client: LangGraphClient, database_url: str) -> None:
    await client.store.put_item(["t"], "k", {"v": 1}, ttl=10)
    (before,) = await sql_rows(database_url, "SELECT expires_at FROM store_items WHERE key = 'k'")
    await sql_rows(database_url, "UPDATE store_items SET expires_at = expires_at - interval '5 minutes'")
    assert (await client.store.get_item(["t"], "k", refresh_ttl=False))["value"] == {"v": 1}
    (kept,) = await sql_rows(database_url, "SELECT expires_at FROM store_items WHERE key = 'k'")
    assert kept["expires_at"] < before["expires_at"]
    await client.store.get_item(["t"], "k")  # refreshes by default
    (refreshed,) = await sql_rows(database_url, "SELECT expires_at FROM store_items WHERE key = 'k'")
    assert refreshed["expires_at"] >= before["expires_at"]

    await _expire(database_url, ["t"], "k")
    assert await client.store.get_item(["t"], "k") is None
    assert (await client.store.search_items(["t"]))["items"] == []
    assert (await client.store.list_namespaces())["namespaces"] == []

    await client.store.put_item(["t"], "forever", {"v": 2})
    conn = await connect(database_url)
    try:
        assert await kv.purge_expired(conn) == 1
    finally:
        await conn.close()
    assert [r["key"] for r in await sql_rows(database_url, "SELECT key FROM store_items")] == ["forever"]


async def test_search_prefix_filter_and_pages(client: LangGraphClient) -> None:
    for i in range(5):
        await client.store.put_item(["docs", "a" if i < 3 else "b"], f"k{i}",
                                    {"i": i, "even": i % 2 == 0, "tags": ["x", f"t{i}"]})
    await client.store.put_item(["other"], "k", {"i": 0})

    everything = (await client.store.search_items([], limit=100))["items"]
    assert len(everything) == 6 and all(it["score"] is None for it in everything)
    docs = (await client.store.search_items(["docs"], limit=100))["items"]
    assert [it["key"] for it in docs] == ["k4", "k3", "k2", "k1", "k0"]  # most recently updated first
    assert {it["key"] for it in (await client.store.search_items(["docs", "b"]))["items"]} == {"k3", "k4"}
    even = (await client.store.search_items(["docs"], filter={"even": True}))["items"]
    assert {it["key"] for it in even} == {"k0", "k2", "k4"}
    assert [it["key"] for it in (await client.store.search_items(["docs"], filter={"i": {"$eq": 3}}))["items"]] \
        == ["k3"]
    not_even = (await client.store.search_items(["docs"], filter={"even": {"$ne": True}}))["items"]
    assert {it["key"] for it in not_even} == {"k1", "k3"}
    tagged = (await client.store.search_items(["docs"], filter={"tags": ["t2"]}))["items"]
    assert [it["key"] for it in tagged] == ["k2"]
    page = (await client.store.search_items(["docs"], limit=2, offset=1))["items"]
    assert [it["key"] for it in page] == ["k3", "k2"]


async def test_list_namespaces(client: LangGraphClient) -> None:
    for ns in (["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["z", "b", "c"]):
        await client.store.put_item(ns, "k", {"v": 1})
    all_ns = (await client.store.list_namespaces())["namespaces"]
    assert all_ns == [["a", "b", "c"], ["a", "b", "d"], ["a", "x"], ["z", "b", "c"]]
    assert (await client.store.list_namespaces(prefix=["a", "b"]))["namespaces"] == [["a", "b", "c"], ["a", "b", "d"]]
    assert (await client.store.list_namespaces(suffix=["c"]))["namespaces"] == [["a", "b", "c"], ["z", "b", "c"]]
    assert (await client.store.list_namespaces(prefix=["*", "b"]))["namespaces"] == [
        ["a", "b", "c"], ["a", "b", "d"], ["z", "b", "c"]]
    assert (await client.store.list_namespaces(max_depth=1))["namespaces"] == [["a"], ["z"]]
    assert (await client.store.list_namespaces(prefix=["a"], max_depth=2))["namespaces"] == [["a", "b"], ["a", "x"]]
    assert (await client.store.list_namespaces(limit=2, offset=1))["namespaces"] == [["a", "b", "d"], ["a", "x"]]


async def test_store_errors(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/store/items/search", json={"namespace_prefix": ["a"], "query": "cats"})
        assert r.status_code == 501 and r.json()["code"] == "unsupported" and "query" in r.json()["detail"]
        r = await http.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
        assert r.status_code == 422 and "periods" in r.json()["detail"]
        r = await http.put("/store/items", json={"namespace": ["langgraph"], "key": "k", "value": {}})
        assert r.status_code == 422
        r = await http.put("/store/items", json={"namespace": [], "key": "k", "value": {}})
        assert r.status_code == 422
        r = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": "not an object"})
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
        r = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {}, "ttl": -1})
        assert r.status_code == 422
        r = await http.post("/store/items/search", json={"namespace_prefix": ["a"], "filter": {"i": {"$gt": 1}}})
        assert r.status_code == 501 and "$gt" in r.json()["detail"]
        r = await http.get("/store/items", params={"namespace": "a"})
        assert r.status_code == 422
        r = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {}, "index": ["x"]})
        assert r.status_code == 501 and "index" in r.json()["detail"]  # no vector index: refused, not ignored
        r = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {}, "index": False})
        assert r.status_code == 204
