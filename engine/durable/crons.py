"""Crons: scheduled runs on a thread or stateless, and the claim that fires each due time exactly once.

`payload` keeps the run request (input, config, context, metadata, interrupt_*, webhook, stream_mode...)
for the scheduler, which creates the runs. `next_run_date` is computed with croniter in the cron's
timezone and stored in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

import sql
from engine.durable import assistants, threads
from engine.durable.ids import uuid7
from engine.errors import InvalidInput, NotFound

Q = sql.queries("crons.sql")

SORT_FIELDS = ("cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time")
SELECT_FIELDS = ("cron_id", "assistant_id", "thread_id", "end_time", "schedule", "timezone", "created_at",
                 "updated_at", "user_id", "payload", "next_run_date", "metadata", "now", "on_run_completed",
                 "enabled")
# request fields kept in `payload` (the run to create at each firing)
PAYLOAD_FIELDS = ("input", "config", "context", "metadata", "checkpoint_during", "interrupt_before",
                  "interrupt_after", "webhook", "multitask_strategy", "stream_mode", "stream_subgraphs",
                  "stream_resumable", "durability", "command", "if_not_exists", "after_seconds")
ON_RUN_COMPLETED = ("delete", "keep")


def zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Invalid timezone {timezone!r}: expected an IANA name such as 'Europe/Paris'") from exc


def check_schedule(schedule: str) -> None:
    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        raise InvalidInput(f"Invalid cron schedule {schedule!r}")


def next_run_date(schedule: str, timezone: str | None, after: datetime) -> datetime:
    """The first time strictly after `after` that the schedule fires, read in `timezone`, in UTC."""
    check_schedule(schedule)
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    try:
        nxt = croniter(schedule, after.astimezone(zone(timezone))).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        raise InvalidInput(f"Invalid cron schedule {schedule!r}: {exc}") from exc
    assert isinstance(nxt, datetime)
    return nxt.astimezone(UTC)


def _row(record: Any) -> dict[str, Any]:
    out = dict(record)
    out.pop("total", None)
    if out["thread_id"] is not None:
        out["on_run_completed"] = None  # only stateless crons delete or keep their threads
    return out


async def create(
    conn: asyncpg.Connection,
    *,
    assistant_id: UUID,
    schedule: str,
    thread_id: UUID | None = None,
    payload: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    enabled: bool = True,
    timezone: str | None = None,
    end_time: datetime | None = None,
    on_run_completed: str | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    tz = timezone or "UTC"
    nxt = next_run_date(schedule, tz, now or datetime.now(UTC))
    if thread_id is None:
        completed = on_run_completed or "delete"
        if completed not in ON_RUN_COMPLETED:
            raise InvalidInput(f"Invalid on_run_completed {completed!r}: expected one of {list(ON_RUN_COMPLETED)}")
    else:
        completed = "keep"  # a thread cron never deletes the caller's thread
    await assistants.get(conn, assistant_id)
    if thread_id is not None:
        await threads.get(conn, thread_id)
    cron_id = uuid7()
    body = {"assistant_id": str(assistant_id), "schedule": schedule, **(payload or {})}
    row = await conn.fetchrow(
        Q["insert"], cron_id, assistant_id, thread_id, schedule, tz, body, dict(metadata or {}), enabled,
        completed, end_time, nxt, user_id,
    )
    return _row(row)


def _scope(scope: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(scope) if scope is not None else None


async def get(conn: asyncpg.Connection, cron_id: UUID, *, scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The cron; one outside `scope` (the caller's access filter) is not found, like a missing one."""
    row = await conn.fetchrow(Q["get"], cron_id, _scope(scope))
    if row is None:
        raise NotFound(f"Cron {cron_id} not found")
    return _row(row)


async def update(conn: asyncpg.Connection, cron_id: UUID, changes: Mapping[str, Any], *,
                 now: datetime | None = None, scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Apply the given fields. `end_time: None` clears it; PAYLOAD_FIELDS replace those of the payload;
    `metadata` is merged. A new schedule, timezone or re-enabling recomputes next_run_date from now."""
    unknown = set(changes) - {"schedule", "timezone", "end_time", "enabled", "on_run_completed", *PAYLOAD_FIELDS}
    if unknown:
        raise InvalidInput(f"Cannot update cron field(s): {sorted(unknown)}")
    async with conn.transaction():
        cur = await conn.fetchrow(Q["lock"], cron_id, _scope(scope))
        if cur is None:
            raise NotFound(f"Cron {cron_id} not found")
        schedule = changes.get("schedule") or cur["schedule"]
        tz = changes.get("timezone") or cur["timezone"]
        enabled = cur["enabled"] if changes.get("enabled") is None else bool(changes["enabled"])
        end_time = changes["end_time"] if "end_time" in changes else cur["end_time"]
        completed = cur["on_run_completed"]
        if changes.get("on_run_completed") is not None and cur["thread_id"] is None:
            completed = changes["on_run_completed"]
            if completed not in ON_RUN_COMPLETED:
                raise InvalidInput(
                    f"Invalid on_run_completed {completed!r}: expected one of {list(ON_RUN_COMPLETED)}"
                )
        nxt = cur["next_run_date"]
        if schedule != cur["schedule"] or tz != cur["timezone"] or (enabled and not cur["enabled"]):
            nxt = next_run_date(schedule, tz, now or datetime.now(UTC))
        else:
            zone(tz)
        payload = dict(cur["payload"])
        payload["schedule"] = schedule
        for field in PAYLOAD_FIELDS:
            if field in changes:
                payload[field] = changes[field]
        metadata = {**cur["metadata"], **(changes.get("metadata") or {})}
        if "metadata" in changes:
            payload["metadata"] = metadata
        row = await conn.fetchrow(Q["update"], cron_id, schedule, tz, payload, metadata, enabled, completed,
                                  end_time, nxt)
    return _row(row)


async def delete(conn: asyncpg.Connection, cron_id: UUID, *, scope: Mapping[str, Any] | None = None) -> None:
    if await conn.fetchval(Q["delete"], cron_id, _scope(scope)) is None:
        raise NotFound(f"Cron {cron_id} not found")


async def search(
    conn: asyncpg.Connection,
    *,
    assistant_id: UUID | None = None,
    thread_id: UUID | None = None,
    enabled: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    scope: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """(crons, total matching) for one page; sort_by is one of SORT_FIELDS; `scope` is the caller's
    access filter (a metadata containment) applied in the query."""
    meta = dict(metadata) if metadata else None
    scoped = dict(scope) if scope is not None else None
    rows = await conn.fetch(Q["search"], assistant_id, thread_id, enabled, meta, limit, offset, sort_by, sort_order,
                            scoped)
    if rows:
        total = int(rows[0]["total"])
    else:
        total = 0 if offset == 0 else await count(
            conn, assistant_id=assistant_id, thread_id=thread_id, enabled=enabled, metadata=meta, scope=scoped
        )
    return [_row(r) for r in rows], total


async def count(
    conn: asyncpg.Connection,
    *,
    assistant_id: UUID | None = None,
    thread_id: UUID | None = None,
    enabled: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    scope: Mapping[str, Any] | None = None,
) -> int:
    return int(await conn.fetchval(Q["count"], assistant_id, thread_id, enabled, dict(metadata) if metadata else None,
                                   dict(scope) if scope is not None else None))


async def claim_due(conn: asyncpg.Connection, now: datetime, *, limit: int = 100) -> list[dict[str, Any]]:
    """Lock the enabled crons due at `now` (skipping rows another process holds), move each one's
    next_run_date to its first time after `now` and return them with `due_at` (the time that fired).

    Missed times are caught up with ONE firing. Call it inside the transaction that creates the runs:
    the claim and the runs then commit (or roll back) together, so each due time fires exactly once
    across processes. Without an outer transaction the claim commits on its own."""
    async with conn.transaction():
        rows = await conn.fetch(Q["lock_due"], now, limit)
        if not rows:
            return []
        nexts = [next_run_date(r["schedule"], r["timezone"], now) for r in rows]
        await conn.execute(Q["advance"], [r["cron_id"] for r in rows], nexts)
    return [{**_row(r), "due_at": r["next_run_date"], "next_run_date": n} for r, n in zip(rows, nexts, strict=True)]
