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
from engine.core import serde
from engine.durable.db import jsonb_text

Q = sql.queries("events.sql")


@dataclass(frozen=True)
class Event:
    event: str
    data: Any


def subject_for(prefix: str, thread_id: uuid.UUID, run_id: uuid.UUID) -> str:
    """One subject per run, grouped by thread: `<prefix>.events.<thread_id>.<run_id>`."""
    return f"{prefix}.events.{thread_id}.{run_id}"


async def append(
    conn: asyncpg.Connection,
    *,
    run_id: uuid.UUID,
    thread_id: uuid.UUID,
    events: Sequence[Event],
    subject_prefix: str,
) -> int:
    """Append `events` for a locked run; returns the last sequence number used."""
    if not events:
        return 0
    first = await conn.fetchval(Q["reserve_seq"], run_id, len(events))
    ids = [uuid.uuid4() for _ in events]
    seqs = [first + i + 1 for i in range(len(events))]
    n = len(events)
    datas = [serde.normalize(e.data) for e in events]  # what consumers will read back
    await conn.execute(
        Q["insert_events"], ids, [run_id] * n, [thread_id] * n, seqs, [e.event for e in events],
        [jsonb_text(d) for d in datas],
    )
    subject = subject_for(subject_prefix, thread_id, run_id)
    payloads = [
        serde.dumps(
            {"event_id": str(i), "run_id": str(run_id), "thread_id": str(thread_id), "seq": s, "event": e.event,
             "data": d}
        )
        for i, s, e, d in zip(ids, seqs, events, datas, strict=True)
    ]
    await conn.execute(Q["insert_outbox"], ids, [run_id] * n, [thread_id] * n, seqs, [subject] * n, payloads)
    return int(seqs[-1])
