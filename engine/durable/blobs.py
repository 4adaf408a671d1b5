"""Channel values of root checkpoints, one row per (channel, version), written only for the channels a
step changed; appends to a list are stored as the appended items (engine/core/saver.py makes them).

`resolve` puts a loaded document's values back before the runtime reads it. Values already seen by
this process come from a cache (a thread's next step reads what its previous step wrote), so a step
decodes only what changed; the rest comes from `checkpoint_blobs`, a list rebuilt from its last full
value and the deltas since. A row's value is LangGraph's serializer's msgpack in `data` (bytea, deflated
when large: `codec.pack`); rows written before migration 0013 hold JSON in `value` (base64 msgpack per
item) and read as they did.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, overload

import asyncpg

import sql
from engine.core import codec
from engine.core.saver import NULLS, RESOLVED, lg_of

Q = sql.queries("blobs.sql")
CACHE_ENTRIES = 512

Key = tuple[uuid.UUID, str, str]


class ValueCache:
    """The decoded values of (thread, channel, version), most recently used last."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self._items: OrderedDict[Key, Any] = OrderedDict()

    def get(self, key: Key) -> tuple[bool, Any]:
        if key in self._items:
            self._items.move_to_end(key)
            return True, self._items[key]
        return False, None

    def clear(self) -> None:
        self._items.clear()

    def put(self, key: Key, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


CACHE = ValueCache()


def _thread(thread_id: uuid.UUID | str) -> uuid.UUID:
    return thread_id if isinstance(thread_id, uuid.UUID) else uuid.UUID(str(thread_id))


@overload
async def resolve(conn: asyncpg.Connection, thread_id: uuid.UUID | str, doc: dict[str, Any]) -> dict[str, Any]: ...
@overload
async def resolve(conn: asyncpg.Connection, thread_id: uuid.UUID | str, doc: None) -> None: ...
async def resolve(conn: asyncpg.Connection, thread_id: uuid.UUID | str, doc: dict[str, Any] | None
                  ) -> dict[str, Any] | None:
    """The document with its channel values (Python objects) in place; documents that embed their values
    (written before blobs, or a subgraph's) are returned as they are."""
    if doc is None or RESOLVED in doc or "channel_values" in lg_of(doc):
        return doc
    tid = _thread(thread_id)
    versions: dict[str, str] = lg_of(doc)["channel_versions"]
    values: dict[str, Any] = {}
    missing: list[tuple[str, str]] = []
    nulls = doc.get(NULLS) or ()
    for ch, ver in versions.items():
        if ch in nulls:
            values[ch] = None
            continue
        hit, value = CACHE.get((tid, ch, str(ver)))
        if hit:
            values[ch] = value
        else:
            missing.append((ch, str(ver)))
    if missing:
        rows = await conn.fetch(Q["blob_chains"], tid, [c for c, _ in missing], [v for _, v in missing])
        by_version: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            by_version[(r["channel0"], r["version"])] = dict(r)
        for ch, ver in missing:
            found, value = _build(tid, ch, ver, by_version)
            if found:
                values[ch] = value
    return {**doc, RESOLVED: values}


def _build(tid: uuid.UUID, ch: str, ver: str, rows: dict[tuple[str, str], dict[str, Any]]) -> tuple[bool, Any]:
    """The value of (channel, version) from its chain of rows (deltas over a full value), caching it."""
    chain: list[dict[str, Any]] = []
    v: str | None = ver
    while v is not None:
        hit, cached = CACHE.get((tid, ch, v))
        if hit:
            break
        row = rows.get((ch, v))
        if row is None:
            return False, None  # a channel whose version has no value (emptied): absent, as in LangGraph
        chain.append(row)
        v = row["base"]
    value: Any = list(cached) if v is not None else None
    for row in reversed(chain):
        if row["data"] is not None:
            stored = codec.unpack(row["data"])
            items = stored.get("items")
        else:  # a row written before migration 0013: JSON, LangGraph's msgpack in base64 per item
            stored = row["value"]
            items = codec.decode_items(stored["items"]) if "items" in stored else None
        if items is not None:
            value = [*(value or []), *items] if row["base"] is not None else items
        else:
            value = stored["value"] if row["data"] is not None else codec.decode(stored["value"])
        CACHE.put((tid, ch, row["version"]), value)
    return True, value


def remember(thread_id: uuid.UUID | str, docs: Sequence[dict[str, Any]]) -> None:
    """Values this process just computed: the next step of the thread reads them from memory."""
    tid = _thread(thread_id)
    for doc in docs:
        for ch, value in (doc.get(RESOLVED) or {}).items():
            ver = lg_of(doc)["channel_versions"].get(ch)
            if ver is not None:
                CACHE.put((tid, ch, str(ver)), value)


def columns(docs: Sequence[dict[str, Any]]) -> tuple[list[Any], ...]:
    """The blobs the documents bring, as parallel columns (channel, version, base, depth, data)."""
    blobs = [b for d in docs for b in d.get("blobs") or []]
    return ([b["channel"] for b in blobs], [str(b["version"]) for b in blobs], [b["base"] for b in blobs],
            [b["depth"] for b in blobs], [b["data"] for b in blobs])


def serialized_sizes(docs: Sequence[dict[str, Any]]) -> list[int]:
    """The sizes of the values the documents bring, serialized (before deflating: what the state limit counts)."""
    return [b["size"] for d in docs for b in d.get("blobs") or []]


async def insert(conn: asyncpg.Connection, thread_id: uuid.UUID | str, docs: Sequence[dict[str, Any]]) -> None:
    """Store the blobs the documents bring (in the caller's transaction)."""
    cols = columns(docs)
    if cols[0]:
        await conn.execute(Q["insert_blobs"], _thread(thread_id), *cols)
