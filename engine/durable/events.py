"""Append run events and their outbox rows inside the caller's transaction.

The caller holds the run's row lock, so sequence numbers handed out by `reserve_seq` are gapless per
run (invariant 5) and outbox ids are in seq order per run, which the relay relies on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

import sql
from engine.durable.db import jsonb_text
from engine.durable.ids import uuid7

Q = sql.queries("events.sql")


@dataclass(frozen=True)
class Event:
    event: str
    data: Any
    # set when a row written in the same transaction refers to the event (a task's row to its result event)
    event_id: uuid.UUID | None = None


def ids(events: Sequence[Event]) -> list[uuid.UUID]:
    """The events' ids: the one each was given, else a new one."""
    return [e.event_id or uuid7() for e in events]


async def append(
    conn: asyncpg.Connection,
    *,
    run_id: uuid.UUID,
    thread_id: uuid.UUID,
    events: Sequence[Event],
    subject_prefix: str,
) -> int:
    """Append `events` for a locked run in one round trip; returns the last sequence number used."""
    if not events:
        return 0
    rows = await conn.fetch(
        Q["append_events"], run_id, thread_id, ids(events), [e.event for e in events],
        [jsonb_text(e.data) for e in events], subject_prefix,
    )
    return max(int(r["seq"]) for r in rows)
