"""A live API (uvicorn on 127.0.0.1) plus in-process workers on one test database; `live_stack` adds
the relay and NATS (for the SSE streams)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from duragraph.services import free_port
from duragraph.settings import Settings
from engine.core.compiled import CompiledGraph
from engine.durable.worker import run_worker
from relay import RelayConfig, run_relay
from tests.integration.engine_support import Engine, engine
from tests.integration.server import serve_api


@contextlib.asynccontextmanager
async def live(database_url: str, graphs: Mapping[str, CompiledGraph], **engine_kw: Any
               ) -> AsyncIterator[tuple[str, Engine]]:
    """Yields (base_url, engine): the API serves the graphs, workers run their steps."""
    async with engine(database_url, graphs, **engine_kw) as e:
        with serve_api(database_url, graphs) as url:
            yield url, e


class ApiServer:
    """The API under uvicorn in a thread on a FIXED port, so a test can stop it (cutting open streams
    after `grace` seconds) and start a fresh one at the same address."""

    def __init__(self, make_app: Callable[[], Any], *, grace: float = 1.0) -> None:
        self.make_app = make_app
        self.grace = grace
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(self.make_app(), log_level="warning", lifespan="on", ws="websockets-sansio", http="h11",
                                timeout_graceful_shutdown=int(max(1, self.grace)))
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"api-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            if server.started:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{self.url}/ok", timeout=2.0).status_code == 200:
                        return
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)
        self._server = self._thread = None


@dataclasses.dataclass
class Stack:
    """A streaming stack: API + workers + relay, all on this test's NATS prefix and JetStream stream."""

    url: str
    database_url: str
    settings: Settings
    relay_config: RelayConfig
    api: ApiServer
    relay_stop: asyncio.Event | None = None
    relay_task: asyncio.Task[None] | None = None

    async def restart_api(self, down: float = 0.5) -> None:
        """Stop the API (open streams are cut), stay down `down` seconds, start a new one."""
        await asyncio.to_thread(self.api.stop)
        await asyncio.sleep(down)
        await asyncio.to_thread(self.api.start)

    def start_relay(self) -> None:
        assert self.relay_task is None
        self.relay_stop = asyncio.Event()
        self.relay_task = asyncio.create_task(run_relay(self.relay_config, stop=self.relay_stop))

    async def stop_relay(self, *, kill: bool = False) -> None:
        """Stop the relay: gracefully, or (kill=True) by cancelling it wherever it is."""
        if self.relay_task is None:
            return
        assert self.relay_stop is not None
        if kill:
            self.relay_task.cancel()
        else:
            self.relay_stop.set()
        await asyncio.gather(self.relay_task, return_exceptions=True)
        self.relay_task = None


@contextlib.asynccontextmanager
async def live_stack(database_url: str, nats_url: str, prefix: str, graphs: Mapping[str, CompiledGraph], *,
                     relay: bool = True, heartbeat: float = 5.0, workers: int = 1, concurrency: int = 4,
                     app_kw: Mapping[str, Any] | None = None, worker_kw: Mapping[str, Any] | None = None,
                     relay_kw: Mapping[str, Any] | None = None) -> AsyncIterator[Stack]:
    """API (with the live hub on NATS) + workers + the relay, isolated to `prefix`; `app_kw` goes to
    create_app, `worker_kw` to run_worker, `relay_kw` to the RelayConfig."""
    settings = Settings(database_url=database_url, nats_url=nats_url, nats_stream=f"{prefix}_EVENTS",
                        subject_prefix=prefix)
    rconf = RelayConfig(database_url=database_url, nats_url=nats_url, stream=settings.nats_stream,
                        subject_prefix=prefix, stream_max_bytes=64 << 20, standby_interval=0.2, sweep_interval=0.5,
                        backoff_initial=0.05, backoff_max=0.5, publish_timeout=1.0, **(relay_kw or {}))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_worker(database_url=database_url, graphs=graphs, subject_prefix=prefix,
                                       concurrency=concurrency, stalled_after=3.0, reaper_interval=0.5, stop=stop,
                                       install_signal_handlers=False, **(worker_kw or {})))
        for _ in range(workers)
    ]
    api = ApiServer(lambda: create_app(database_url=database_url, graphs=graphs, settings=settings,
                                       state={"stream_heartbeat": heartbeat}, **(app_kw or {})))
    stack: Stack | None = None
    try:
        await asyncio.to_thread(api.start)
        stack = Stack(url=api.url, database_url=database_url, settings=settings, relay_config=rconf, api=api)
        if relay:
            stack.start_relay()
        yield stack
    finally:
        if stack is not None:
            await stack.stop_relay()
        await asyncio.to_thread(api.stop)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
