"""The LangGraph store nodes use (`runtime.store`, `get_store()`, an injected `store`): a LangGraph
`BaseStore` over DuraGraph's store table, so nodes and the `/store` API see the same items.

Its writes are not part of the step's transaction: a node that runs again (at-least-once) writes again,
which a put of the same key makes harmless. Semantic search (`query=`) and `put(..., index=[fields])`
need a vector index this store does not have, and are refused with a clear error (as the `/store` API does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import asyncpg
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from engine.durable import kv
from engine.errors import InvalidInput, Unsupported


class PostgresStore(BaseStore):
    supports_ttl = True

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        if self._loop is None:  # built outside a loop: the first async use names the loop sync calls go to
            self._loop = asyncio.get_running_loop()
        async with self.pool.acquire() as conn:
            return [await self._one(conn, op) for op in ops]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """For sync nodes, which run in worker threads: the query runs on the process's event loop."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the store was created outside an event loop and not used from one yet; "
                               "use its async methods (aget, aput, asearch...)")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("sync store calls cannot run on the event loop's thread: use the async methods "
                               "(aget, aput, asearch...) in an async node")
        return asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), loop).result()

    async def _one(self, conn: asyncpg.Connection, op: Op) -> Result:
        if isinstance(op, GetOp):
            row = await kv.get(conn, op.namespace, op.key, refresh_ttl=op.refresh_ttl)
            return _item(row) if row is not None else None
        if isinstance(op, PutOp):
            if op.value is None:
                await kv.delete(conn, op.namespace, op.key)
            else:
                if op.index:  # as the /store API answers `index=[...]`: only `None`/`False` (no index) is served
                    raise Unsupported(f"store put with index={op.index!r} is not supported: the store has no vector "
                                      "index (semantic search); use index=False or leave it out")
                try:
                    await kv.put(conn, op.namespace, op.key, op.value, ttl_minutes=op.ttl)
                except (TypeError, asyncpg.DataError) as exc:  # the jsonb encoder met a value JSON cannot hold
                    raise InvalidInput(f"store value for {list(op.namespace)!r}/{op.key!r} is not JSON: {exc}") from exc
            return None
        if isinstance(op, SearchOp):
            if op.query:
                raise Unsupported("store search with a query (semantic search) is not supported: the store has no "
                                  "vector index; search by namespace and filter instead")
            rows = await kv.search(conn, op.namespace_prefix, filter=op.filter, limit=op.limit, offset=op.offset,
                                   refresh_ttl=op.refresh_ttl)
            return [SearchItem(tuple(r["namespace"]), r["key"], r["value"], r["created_at"], r["updated_at"])
                    for r in rows]
        if isinstance(op, ListNamespacesOp):
            prefix: list[str] = []
            suffix: list[str] = []
            for cond in op.match_conditions or ():
                if cond.match_type == "prefix":
                    prefix = list(cond.path)
                else:
                    suffix = list(cond.path)
            namespaces = await kv.list_namespaces(conn, prefix=prefix, suffix=suffix, max_depth=op.max_depth,
                                                  limit=op.limit, offset=op.offset)
            return [tuple(ns) for ns in namespaces]
        raise Unsupported(f"store operation {type(op).__name__} is not supported")


def _item(row: dict[str, Any]) -> Item:
    return Item(value=row["value"], key=row["key"], namespace=tuple(row["namespace"]),
                created_at=row["created_at"], updated_at=row["updated_at"])
