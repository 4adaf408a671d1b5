"""Publish one batch of outbox rows to JetStream, in order per run.

Rows of one run are published one after another, each awaiting its ack before the next is sent, so a
failure can only ever leave a prefix of a run stored: never event n+1 without event n. Different runs
are published concurrently. (Pipelining within a run is not safe: if message n is lost in a reconnect
while n+1 is flushed from the client's buffer, n+1 lands first and the retry of n lands after it.)
"""

from __future__ import annotations

import asyncio
import uuid
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


def headers(row: OutboxRow) -> dict[str, str]:
    return {
        "Nats-Msg-Id": str(row.event_id),
        "Duragraph-Event-Id": str(row.event_id),
        "Duragraph-Run-Id": str(row.run_id),
        "Duragraph-Thread-Id": str(row.thread_id),
        "Duragraph-Seq": str(row.seq),
    }


async def publish_batch(js: Any, rows: Sequence[OutboxRow], *, stream: str, publish_timeout: float) -> BatchOutcome:
    """Publish `rows` (in id order); returns which were acked. Never raises a publish error."""
    by_run: dict[uuid.UUID, list[OutboxRow]] = {}
    for row in rows:
        by_run.setdefault(row.run_id, []).append(row)
    acked: list[int] = []
    errors: list[BaseException] = []

    async def publish_run(run_rows: list[OutboxRow]) -> None:
        for row in run_rows:
            try:
                # `stream` sets Nats-Expected-Stream: a subject captured by another stream fails loudly
                await js.publish(row.subject, row.payload, timeout=publish_timeout, stream=stream, headers=headers(row))
            except PUBLISH_ERRORS as e:
                errors.append(e)
                return
            acked.append(row.id)

    await asyncio.gather(*(publish_run(r) for r in by_run.values()))
    acked.sort()
    return BatchOutcome(acked, errors[0] if errors else None)
