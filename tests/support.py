"""Test helpers shared by the tiers: waiting without bare sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Await `check()` until it returns a truthy value (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + within
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within}s (last value: {last!r})")
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T], *, within: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    deadline = time.monotonic() + within
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within}s (last value: {last!r})")
        time.sleep(interval)


async def sql_rows(dsn: str, query: str, *args: object) -> list[Any]:
    """Rows of one query on a fresh connection: for tests that look at the database directly."""
    from engine.durable.db import connect

    conn = await connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()
