"""PostgresStore, the LangGraph `BaseStore` nodes get, against a real database: every op of `abatch`,
TTL, delete, search paging and filters, namespace listing, and `batch` from a worker thread (and its
clear refusal on the event loop's own thread)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, PutOp, SearchOp

from engine.durable.db import create_pool
from engine.durable.lgstore import PostgresStore
from engine.errors import InvalidInput, Unsupported
from tests.support import eventually


async def test_async_ops(database_url: str) -> None:
    pool = await create_pool(database_url)
    try:
        store = PostgresStore(pool)
        for i in range(5):
            await store.aput(("docs", "ada", str(i % 2)), f"k{i}", {"n": i, "even": i % 2 == 0})
        await store.aput(("docs", "bob"), "k", {"n": 9})

        item = await store.aget(("docs", "ada", "0"), "k2")
        assert isinstance(item, Item) and item.value == {"n": 2, "even": True}
        assert item.namespace == ("docs", "ada", "0") and isinstance(item.created_at, datetime)
        assert await store.aget(("docs", "ada", "0"), "missing") is None

        # search: prefix, most recently updated first, limit/offset, equality and $ne filters
        assert [i.key for i in await store.asearch(("docs", "ada"), limit=10)] == ["k4", "k3", "k2", "k1", "k0"]
        assert [i.key for i in await store.asearch(("docs",), limit=2, offset=1)] == ["k4", "k3"]
        assert [i.key for i in await store.asearch(("docs",), filter={"even": True})] == ["k4", "k2", "k0"]
        assert [i.key for i in await store.asearch(("docs", "ada"), filter={"n": {"$ne": 4}, "even": True})] == [
            "k2", "k0"]
        with pytest.raises(Unsupported, match=r"\$gt"):
            await store.asearch(("docs",), filter={"n": {"$gt": 1}})
        with pytest.raises(Unsupported, match="semantic search"):
            await store.asearch(("docs",), query="who is ada?")
        with pytest.raises(Unsupported, match="vector index"):
            await store.aput(("docs",), "k", {"text": "x"}, index=["text"])
        await store.aput(("docs",), "unindexed", {"text": "x"}, index=False)
        assert await store.aget(("docs",), "unindexed") is not None
        await store.adelete(("docs",), "unindexed")

        # namespaces: prefix, suffix, max_depth, paging
        assert await store.alist_namespaces(prefix=("docs",)) == [
            ("docs", "ada", "0"), ("docs", "ada", "1"), ("docs", "bob")]
        assert await store.alist_namespaces(suffix=("1",)) == [("docs", "ada", "1")]
        assert await store.alist_namespaces(prefix=("docs", "*"), max_depth=2) == [("docs", "ada"), ("docs", "bob")]
        assert await store.alist_namespaces(limit=1, offset=1) == [("docs", "ada", "1")]

        # one batch, results in the ops' order; a put of None deletes
        results = await store.abatch([
            PutOp(("docs", "bob"), "k", None),
            GetOp(("docs", "bob"), "k"),
            SearchOp(("docs", "ada", "1"), limit=1),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("docs", "bob")),)),
        ])
        assert results[0] is None and results[1] is None
        assert [i.key for i in results[2]] == ["k3"]  # type: ignore[union-attr]
        assert results[3] == []

        # ttl (minutes): the item expires; invalid values and namespaces are clear errors
        await store.aput(("tmp",), "short", {"v": 1}, ttl=0.002)
        await store.aput(("tmp",), "long", {"v": 2}, ttl=60)
        assert await eventually(lambda: _gone(store, ("tmp",), "short"), within=10, what="the item expired")
        assert (await store.aget(("tmp",), "long")) is not None
        with pytest.raises(InvalidInput, match="not JSON"):
            await store.aput(("tmp",), "bad", {"v": object()})
        with pytest.raises(InvalidInput, match="periods"):
            await store.abatch([GetOp(("a.b",), "k")])
    finally:
        await pool.close()


async def _gone(store: PostgresStore, namespace: tuple[str, ...], key: str) -> bool:
    return await store.aget(namespace, key, refresh_ttl=False) is None  # a read refreshes the ttl otherwise


async def test_sync_calls_from_a_thread_and_refused_on_the_loop(database_url: str) -> None:
    pool = await create_pool(database_url)
    try:
        store = PostgresStore(pool)

        def sync_node() -> list[str]:  # what a sync LangGraph node does in its worker thread
            store.put(("sync",), "a", {"v": 1})
            store.put(("sync",), "b", {"v": 2})
            store.delete(("sync",), "b")
            assert store.get(("sync",), "a") is not None
            return [i.key for i in store.search(("sync",))]

        assert await asyncio.to_thread(sync_node) == ["a"]
        assert (await store.aget(("sync",), "a")).value == {"v": 1}  # type: ignore[union-attr]
        with pytest.raises(RuntimeError, match="event loop's thread"):
            store.get(("sync",), "a")  # an async node calling the sync API would block its own loop
    finally:
        await pool.close()


def test_a_store_built_outside_a_loop_learns_it_on_first_async_use(database_url: str) -> None:
    async def main(store: PostgresStore) -> None:
        with pytest.raises(RuntimeError, match="outside an event loop"):
            await asyncio.to_thread(store.get, ("x",), "k")
        await store.aput(("x",), "k", {"v": 1})
        item = await asyncio.to_thread(store.get, ("x",), "k")
        assert item is not None and item.value == {"v": 1}
        await store.pool.close()

    async def make_pool() -> PostgresStore:
        return PostgresStore(await create_pool(database_url))

    loop = asyncio.new_event_loop()
    try:
        store = loop.run_until_complete(make_pool())
        store._loop = None  # as if the Runtime had been built before the loop ran
        loop.run_until_complete(main(store))
    finally:
        loop.close()
