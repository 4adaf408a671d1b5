"""The relay's side of the outbox table: the advisory lock, fetch in id order, mark, expire."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

CHANNEL = "duragraph_outbox"  # pg_notify'd by the outbox insert trigger

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def queries() -> dict[str, str]:
    """The named queries of relay/queries.sql (`-- name: xyz` blocks), loaded once."""
    text = (resources.files(__package__ or "relay") / "queries.sql").read_text("utf-8")
    parts = _NAME.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in out:
            raise RuntimeError(f"query {name!r} is defined twice in relay/queries.sql")
        out[name] = body.strip().rstrip(";")
    return out


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event_id: str  # uuids in their text form: they only go into message headers
    run_id: str
    thread_id: str
    seq: int
    subject: str
    payload: bytes
    age: float = 0.0  # seconds since the row was committed, when it was fetched


async def try_lock(conn: Any, key: int) -> bool:
    return bool(await conn.fetchval(queries()["try_lock"], key))


async def mark_and_fetch(conn: Any, ids: Sequence[int], limit: int) -> list[OutboxRow]:
    """Mark `ids` published and fetch the oldest `limit` unpublished rows (in id order), in one statement."""
    rows = await conn.fetch(queries()["mark_and_fetch"], list(ids), limit)
    return [OutboxRow(*r) for r in rows]


async def fetch_unpublished(conn: Any, limit: int) -> list[OutboxRow]:
    """The oldest `limit` unpublished rows, in id order."""
    return await mark_and_fetch(conn, (), limit)


async def count_unpublished(conn: Any) -> int:
    return int(await conn.fetchval(queries()["count_unpublished"]))


async def mark_published(conn: Any, ids: Sequence[int]) -> int:
    status: str = await conn.execute(queries()["mark_published"], list(ids))
    return _count(status)


async def delete_expired(conn: Any, retention_seconds: float, limit: int) -> int:
    status: str = await conn.execute(queries()["delete_expired"], retention_seconds, limit)
    return _count(status)


def _count(status: str) -> int:
    """Row count of an asyncpg command status such as 'UPDATE 12' / 'DELETE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
