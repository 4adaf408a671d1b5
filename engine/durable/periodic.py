"""Background loops of a worker process: do a pass, then sleep until the next one or until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from engine.durable.outage import Outage, is_transient


async def every(interval: float, stop: asyncio.Event, pass_: Callable[[], Awaitable[object]],
                log: logging.Logger, what: str, *, on_failure: Callable[[], None] | None = None) -> None:
    """Run `pass_` every `interval` seconds until `stop` is set. A pass failed by a database outage is
    retried at the next tick (the outage logged once, with its end); `on_failure` hears of each."""
    outage = Outage(log, what)
    while not stop.is_set():
        try:
            await pass_()
        except Exception as exc:
            if not is_transient(exc):
                log.exception("%s pass failed", what)
            else:
                outage.failed(exc)
            if on_failure is not None:
                on_failure()
        else:
            outage.ok()
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
