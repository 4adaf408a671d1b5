"""Run real procrastinate workers in-process against a test database, and drive runs through the
RunService, exactly as the API does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.core import codec
from engine.core.compiled import CompiledGraph
from engine.durable.db import create_pool
from engine.durable.runs import RunRequest, RunService
from engine.durable.runtime import Runtime
from engine.durable.state import StateService
from engine.durable.waiter import RunWaiter
from engine.durable.worker import run_worker


@dataclass
class Engine:
    rt: Runtime
    runs: RunService
    state: StateService
    pool: asyncpg.Pool

    async def new_thread(self) -> uuid.UUID:
        tid = uuid.uuid4()
        async with self.pool.acquire() as conn:
            await conn.execute("INSERT INTO threads (thread_id) VALUES ($1)", tid)
        return tid

    async def run(self, graph: str, thread_id: uuid.UUID | None = None, *, timeout: float = 30,
                  **kwargs: Any) -> dict[str, Any]:
        """Create a run and wait for it to end; returns the run with its output (as JSON data, as the API
        shows it) and error."""
        run = await self.runs.create(RunRequest(assistant_id=graph, thread_id=thread_id, **kwargs))
        done = await self.runs.wait(uuid.UUID(run["run_id"]), timeout)
        return {**done, "output": codec.to_wire(done["output"])}

    async def events(self, run_id: str | uuid.UUID) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch("SELECT seq, event, data FROM events WHERE run_id = $1 ORDER BY seq",
                                         uuid.UUID(str(run_id))))


@contextlib.asynccontextmanager
async def engine(database_url: str, graphs: Mapping[str, CompiledGraph], *, workers: int = 1,
                 concurrency: int = 4, stalled_after: float = 3.0) -> AsyncIterator[Engine]:
    pool = await create_pool(database_url)
    rt = Runtime(pool=pool, graphs=graphs)
    waiter = RunWaiter(database_url, pool, poll_interval=0.5)
    await waiter.start()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_worker(database_url=database_url, graphs=graphs, concurrency=concurrency,
                                       stalled_after=stalled_after, reaper_interval=0.5, stop=stop,
                                       install_signal_handlers=False))
        for _ in range(workers)
    ]
    try:
        yield Engine(rt=rt, runs=RunService(rt, waiter), state=StateService(rt), pool=pool)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await waiter.close()
        await pool.close()
