"""The relay's side of the outbox table: the advisory lock, fetch in id order, delete what was published.

An outbox row refers to its event: the fetch builds the message from the `events` row (relay/queries.sql)
and a published row is deleted, so the table holds the unpublished backlog only."""

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


@dataclass(frozen=True, slots=True)
class Batch:
    """One fetch: the rows to publish, in id order, and the ids of rows with nothing to publish (their
    event is gone: deleted with its thread before anything kept it), to delete with the published ones."""
    rows: list[OutboxRow]
    orphans: list[int]

    def __len__(self) -> int:
        return len(self.rows) + len(self.orphans)


async def try_lock(conn: Any, key: int) -> bool:
    return bool(await conn.fetchval(queries()["try_lock"], key))


async def delete_and_fetch(conn: Any, ids: Sequence[int], limit: int) -> Batch:
    """Delete the rows `ids` (done) and fetch the oldest `limit` unpublished rows (in id order), with their
    messages built from their events, in one statement."""
    rows, orphans = [], []
    for r in await conn.fetch(queries()["delete_and_fetch"], list(ids), limit):
        if r[5] is None or r[6] is None:  # no subject or no payload: the event is gone
            orphans.append(r[0])
        else:
            rows.append(OutboxRow(*r))
    return Batch(rows, orphans)


async def fetch_unpublished(conn: Any, limit: int) -> list[OutboxRow]:
    """The oldest `limit` unpublished rows that have something to publish, in id order."""
    return (await delete_and_fetch(conn, (), limit)).rows


async def count_unpublished(conn: Any) -> int:
    return int(await conn.fetchval(queries()["count_unpublished"]))


async def delete_published(conn: Any, ids: Sequence[int]) -> int:
    status: str = await conn.execute(queries()["delete_published"], list(ids))
    return _count(status)


async def delete_marked(conn: Any, limit: int) -> int:
    """Delete up to `limit` rows a relay of the previous version marked published instead of deleting."""
    status: str = await conn.execute(queries()["delete_marked"], limit)
    return _count(status)


def _count(status: str) -> int:
    """Row count of an asyncpg command status such as 'UPDATE 12' / 'DELETE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
