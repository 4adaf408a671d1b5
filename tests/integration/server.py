"""Run the real API under uvicorn on 127.0.0.1 (a free port) in a background thread.

    @pytest.fixture
    def base_url(database_url: str) -> Iterator[str]:
        with serve_api(database_url, graphs={"agent": graph}) as url:
            yield url

    async def test_x(base_url: str) -> None:
        client = get_client(url=base_url, api_key=None)

`serve_api` passes `**extra` on to `api.app.create_app` (routers, lifespans, state...); `serve_app`
serves any ASGI app built by the caller. Both wait for `GET /ok` and shut the server down cleanly.
Workers or relays a test needs run next to it, started by that test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from api.app import create_app


@contextmanager
def serve_app(app: Any, *, startup_timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` until the block exits; yields the base URL (`http://127.0.0.1:<port>`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio", http="h11",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"api-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if failure or not thread.is_alive():
                raise RuntimeError(f"API server did not start: {failure[0] if failure else 'thread exited'}")
            if server.started:
                try:
                    if httpx.get(f"{base_url}/ok", timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"API server not up within {startup_timeout}s")
            time.sleep(0.02)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if thread.is_alive():  # pragma: no cover - a hung shutdown is a bug worth seeing
            raise RuntimeError("API server did not shut down within 15s")


@contextmanager
def serve_api(database_url: str, graphs: Mapping[str, object], **extra: Any) -> Iterator[str]:
    """`create_app(database_url=..., graphs=..., **extra)` served on a free port; yields the base URL."""
    with serve_app(create_app(database_url=database_url, graphs=graphs, **extra)) as url:
        yield url
