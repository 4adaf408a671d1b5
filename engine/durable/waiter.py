"""Wait for runs to end: one LISTEN connection per process fans `duragraph_run_done` out to waiters,
with a slow poll as the safety net for a notification missed while reconnecting. Each check reads the
whole run row, so the row a waiter returns is the one that showed the run ended (no second read)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict

import asyncpg

import sql

Q = sql.queries("runs.sql")

TERMINAL = frozenset({"success", "error", "timeout", "interrupted"})
CHANNEL = "duragraph_run_done"


class RunWaiter:
    def __init__(self, dsn: str, pool: asyncpg.Pool, *, poll_interval: float = 1.0) -> None:
        self._dsn = dsn
        self._pool = pool
        self._poll = poll_interval
        self._conn: asyncpg.Connection | None = None
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for ev in self._waiters.get(payload, ()):
            ev.set()

    async def _row(self, run_id: uuid.UUID) -> asyncpg.Record | None:
        async with self._pool.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(Q["get_run"], run_id)
            return row

    async def wait(self, run_id: uuid.UUID, timeout: float | None = None) -> asyncpg.Record | None:
        """Block until the run is no longer pending/running; returns its row (`get_run`; None if deleted).
        Raises TimeoutError after `timeout` seconds."""
        key = str(run_id)
        ev = asyncio.Event()
        self._waiters[key].add(ev)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                row = await self._row(run_id)
                if row is None or row["status"] in TERMINAL:
                    return row
                status = row["status"]
                wait_for = self._poll
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise TimeoutError(f"run {run_id} still {status}")
                    wait_for = min(wait_for, remaining)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), wait_for)
                ev.clear()
        finally:
            self._waiters[key].discard(ev)
            if not self._waiters[key]:
                del self._waiters[key]
