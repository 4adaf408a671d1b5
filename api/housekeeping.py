"""What the API process enforces on its own, so that it holds with no worker alive: the run timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar

from engine.durable.periodic import every
from engine.durable.timeouts import end_timed_out_runs

log = logging.getLogger("duragraph.api")
SWEEP_SECONDS = 1.0


@contextlib.asynccontextmanager
async def timeout_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Sweep runs past `settings.run_timeout_seconds` every second (no-op without a timeout)."""
    timeout = app.state.settings.run_timeout_seconds
    if timeout is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(every(SWEEP_SECONDS, stop, lambda: end_timed_out_runs(app.state.runtime, timeout),
                                     log, "run timeout sweep"))
    try:
        yield
    finally:
        stop.set()
        await task
