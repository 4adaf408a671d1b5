"""Background loops of a worker process: do a pass, then sleep until the next one or until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg


async def every(interval: float, stop: asyncio.Event, pass_: Callable[[], Awaitable[object]],
                log: logging.Logger, what: str) -> None:
    """Run `pass_` every `interval` seconds until `stop` is set; a failed pass (database unreachable) is
    logged and retried at the next tick rather than ending the loop."""
    while not stop.is_set():
        try:
            await pass_()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("%s pass failed: %s", what, exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
