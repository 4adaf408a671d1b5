"""Publish one batch of outbox rows to JetStream, in order per run, at most one publish per run in flight.

The batch goes out in waves: wave k holds the k-th row of every run still going. All of a wave's
messages are written at once with `js.publish_async` (one socket write for the lot, one reply
subscription for every ack, no per-message task or inbox), then the wave's acks are awaited together.
A run whose row failed (error reply, no reply within `publish_timeout`, connection lost) takes no part
in later waves, so a failure can only ever leave a prefix of a run stored: never event n+1 without
event n. The client must allow a whole batch of pending acks (`publish_async_max_pending`, see
relay.Relay._nats_ready): a wave is written before any of its acks is awaited.

Why not several rows of one run in flight: if message n is written to a connection that then dies,
it is lost, while n+1, still in the client's pending buffer, is flushed to the new connection after
the reconnect and stored. The retry of n would then land after n+1, and no retry can undo that (the
stream's de-duplication would drop a republished n+1). One row per run per wave rules it out. Rows of
different runs (different subjects) have no order between them, so a wave may hold any number of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors

from relay.outbox import OutboxRow

# what a publish may raise while NATS is down, slow, restarting or misconfigured: back off and retry
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (nats.errors.Error, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class BatchOutcome:
    acked: list[int]  # outbox ids JetStream acknowledged (stored now, or dropped as a duplicate)
    error: BaseException | None  # the first failure; its run's later rows were not attempted


def headers(row: OutboxRow, stream: str) -> dict[str, str]:
    """The message's headers. `Nats-Expected-Stream`: a subject captured by another stream fails loudly."""
    return {
        "Nats-Msg-Id": row.event_id,
        "Nats-Expected-Stream": stream,
        "Duragraph-Event-Id": row.event_id,
        "Duragraph-Run-Id": row.run_id,
        "Duragraph-Thread-Id": row.thread_id,
        "Duragraph-Seq": str(row.seq),
    }


def waves(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """Wave k = the k-th row (in id order) of every run that has one."""
    depth: dict[str, int] = {}
    out: list[list[OutboxRow]] = []
    for row in rows:
        k = depth.get(row.run_id, 0)
        depth[row.run_id] = k + 1
        if k == len(out):
            out.append([])
        out[k].append(row)
    return out


async def publish_batch(js: Any, rows: Sequence[OutboxRow], *, stream: str, publish_timeout: float) -> BatchOutcome:
    """Publish `rows` (in id order); returns which were acked. Never raises a publish error."""
    acked: list[int] = []
    failed: set[str] = set()  # runs with a failed row: none of their later rows is sent
    error: BaseException | None = None
    for wave in waves(rows):
        sent: list[tuple[OutboxRow, asyncio.Future[Any]]] = []
        try:
            try:
                for row in wave:
                    if row.run_id not in failed:
                        sent.append((row, await js.publish_async(row.subject, row.payload,
                                                                 headers=headers(row, stream))))
            except PUBLISH_ERRORS as e:  # the connection is closed or its pending buffer is full: stop here
                error = error or e
                failed.update(row.run_id for row in wave)
            if sent:
                await asyncio.wait([f for _, f in sent], timeout=publish_timeout)
        finally:  # also when cancelled (the lock was lost): give up on the acks still pending
            for _, ack in sent:
                if not ack.done():
                    ack.cancel()
        for row, ack in sent:
            if ack.cancelled():  # lost or late: the row stays unpublished, sent again (deduplicated if stored)
                error = error or TimeoutError(f"no ack for outbox row {row.id} within {publish_timeout}s")
                failed.add(row.run_id)
            elif ack.exception() is not None:
                error = error or ack.exception()
                failed.add(row.run_id)
            else:
                acked.append(row.id)
    acked.sort()
    return BatchOutcome(acked, error)
