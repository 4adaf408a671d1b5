"""Riding out a database outage: which errors are one, a capped backoff, and one log line per outage.

A PostgreSQL restart (failover, upgrade, crash) is routine: every loop of a worker retries what failed
with a bounded backoff and no time limit, says once that the database is unreachable and once that it
is back, and never exits because of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import FrameType, TracebackType
from urllib.parse import urlsplit

import asyncpg
import procrastinate.exceptions
import psycopg

# a lost or refused connection, a server shutting down or starting up, a rolled-back transaction that can
# be tried again: nothing about the work itself is wrong
TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # e.g. the backend was terminated, the server is starting up
    asyncpg.exceptions.InsufficientResourcesError,  # e.g. too many connections while everyone reconnects
    asyncpg.InterfaceError,  # e.g. the connection was closed under the transaction
    OSError,  # refused, reset, timed out
    psycopg.OperationalError,
)


def is_transient(exc: BaseException) -> bool:
    """A database outage (or a retryable transaction conflict), also when procrastinate wrapped it."""
    if isinstance(exc, procrastinate.exceptions.ConnectorException):
        cause = exc.__cause__
        return cause is None or is_transient(cause) or isinstance(cause, psycopg.errors.AdminShutdown)
    return isinstance(exc, TRANSIENT)


# a transaction conflict: PostgreSQL rolled the transaction back and said so, nothing of it committed
_CONFLICT: tuple[type[BaseException], ...] = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError,
                                              asyncpg.LockNotAvailableError)


def outcome_unknown(exc: BaseException) -> bool:
    """A failure after which the work may have committed: the connection was lost while a COMMIT was in
    flight, or while a statement outside a transaction block (which commits by itself) was. Running the
    work again could then do it twice. Known not to have committed: a conflict PostgreSQL answered, a
    connection that failed while being made, a statement inside a transaction block (the block dies with
    the connection). Anything unclear counts as unknown. Read from the traceback, whose frames keep the
    asyncpg connection or transaction the failure went through."""
    if isinstance(exc, BaseExceptionGroup):
        return any(outcome_unknown(e) for e in exc.exceptions)
    if isinstance(exc, _CONFLICT) or not is_transient(exc):
        return False
    frames = _frames(exc.__traceback__)
    transaction = [name for _, module, name in frames if module == "asyncpg.transaction"]
    if transaction:  # a transaction block's exit: its COMMIT (unknown), or its rollback (nothing committed)
        return "__commit" in transaction
    statement: asyncpg.Connection | None = None
    for frame, module, _ in frames:
        if module in ("asyncpg.pool", "asyncpg.connect_utils") and statement is None:
            return False  # the connection was being made or handed out: nothing was sent on it
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncpg.Connection):
            statement = candidate
    if statement is None:
        return True
    # the state of the connection's last ReadyForQuery: inside a block, the statement could not commit
    return not statement.is_in_transaction()


def _frames(tb: TracebackType | None) -> list[tuple[FrameType, str, str]]:
    out: list[tuple[FrameType, str, str]] = []
    while tb is not None:
        frame = tb.tb_frame
        out.append((frame, str(frame.f_globals.get("__name__", "")), frame.f_code.co_name))
        tb = tb.tb_next
    return out


class Backoff:
    """Delays that double from `first` up to `cap` (no limit on how many)."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """Logs the first failure of an outage and the recovery, not every retry in between."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log, self.what = log, what
        self.since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s: database unreachable (%s: %s); retrying until it is back",
                             self.what, type(exc).__name__, exc)

    def ok(self) -> None:
        if self.since is not None:
            self.log.warning("%s: database reachable again after %.1fs", self.what, time.monotonic() - self.since)
            self.since = None


def where(dsn: str) -> str:
    """host:port/db of a DSN, without credentials (for log lines)."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


async def wait_for_database(dsn: str, log: logging.Logger, stop: asyncio.Event | None = None) -> bool:
    """Return once a connection to `dsn` succeeds (True), or when `stop` is set first (False)."""
    backoff = Backoff(0.2, 2.0)
    said = False
    while stop is None or not stop.is_set():
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except (*TRANSIENT, asyncpg.PostgresError) as exc:
            if not said:
                log.warning("waiting for the database at %s (%s: %s)", where(dsn), type(exc).__name__, exc)
                said = True
            delay = backoff.next()
            if stop is None:
                await asyncio.sleep(delay)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
            continue
        await conn.close()
        if said:
            log.warning("the database at %s is reachable", where(dsn))
        return True
    return False
