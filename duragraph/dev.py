"""`duragraph dev`: embedded PostgreSQL + NATS, migrations, then api + worker + relay in one process.

The data directory is locked by the `duragraph dev` that owns it (a second one says so and leaves
everything alone); the port is checked before anything starts; the banner is printed once the API
listens; graph code is reloaded when a file under the config's folder changes (duragraph.reload).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from duragraph.errors import CliError
from duragraph.serve import (
    load_project,
    log,
    migrate,
    run_server,
    security_of,
    serve_api,
    serve_relay,
    serve_worker,
)
from duragraph.settings import Settings

# on a reload or Ctrl-C, open streams (Studio keeps some open) get this long before they are cut
DRAIN_SECONDS = 2
# LangGraph Studio (the hosted UI) talks to a local server from this origin
STUDIO_ORIGINS = ("https://smith.langchain.com",)


def dev_host(settings: Settings, auth_mode: str) -> Settings:
    """`duragraph dev` without any authentication serves on the loopback interface only."""
    if auth_mode == "open" and settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("no authentication is configured: `duragraph dev` serves on 127.0.0.1, not %s", settings.host)
        return replace(settings, host="127.0.0.1")
    return settings


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir/dev.lock` (an flock, released by the OS even after kill -9) for as long as we run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "dev.lock"
    f: IO[str] = open(path, "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            owner = f.read().strip() or "?"
            raise CliError(f"another `duragraph dev` (pid {owner}) is using the data directory {data_dir}; "
                           "stop it first, or give this one its own DURAGRAPH_DATA_DIR") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        f.close()


def check_port(host: str, port: int) -> None:
    """Fail in one line, before anything starts, when host:port cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                           "(another server is using it? choose one with --port)") from None


def banner(settings: Settings, data_dir: Path, graphs: dict[str, object], reload: bool) -> str:
    base = f"http://{settings.host}:{settings.port}"
    studio = any(o in ("*", *STUDIO_ORIGINS) for o in settings.cors_origins)
    return (f"DuraGraph is running\n  API:   {base}\n  UI:    {base}/ui\n  Docs:  {base}/docs\n"
            + (f"  Studio: {STUDIO_ORIGINS[0]}/studio/?baseUrl={base}\n" if studio else "")
            + f"  Data:  {data_dir}\n  Database: {settings.database_url}\n  NATS:  {settings.nats_url}\n"
            f"  Graphs: {', '.join(sorted(graphs))}\n"
            f"  Reload: {'on (edit a graph file to reload it)' if reload else 'off'}\n"
            "Press Ctrl-C to stop.")


async def run_dev(settings: Settings, graphs: dict[str, object], security: Any, stop: asyncio.Event,
                  data_dir: Path, reload: bool) -> None:
    """api + worker + relay until `stop`; on a successful reload the api and worker restart on the new
    graphs (steps in flight finish first, on the code they started with; the next steps run the new code)."""
    from duragraph.reload import watch_graphs

    relay = asyncio.create_task(serve_relay(settings, stop))
    reloads: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    watcher = asyncio.create_task(watch_graphs(settings.config_path, data_dir, stop, reloads.put_nowait)) \
        if reload else None
    first = True
    try:
        while not stop.is_set():
            inner = asyncio.Event()

            text = banner(settings, data_dir, graphs, reload) if first else f"reloaded: {', '.join(sorted(graphs))}"
            def announce(text: str = text) -> None:
                print(text, flush=True)

            parts: asyncio.Future[Any] = asyncio.gather(
                serve_api(settings, graphs, inner, security, announce, drain=DRAIN_SECONDS),
                serve_worker(settings, graphs, inner),
                return_exceptions=True)
            outer = asyncio.create_task(stop.wait())
            nxt = asyncio.create_task(reloads.get())
            waiting: set[asyncio.Future[Any]] = {parts, outer, nxt}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            inner.set()
            outer.cancel()
            if nxt in done:
                graphs = nxt.result()
            else:
                nxt.cancel()
            for result in await parts:
                if isinstance(result, BaseException):
                    raise result
            if parts in done:  # the components ended on their own
                break
            first = False
    finally:
        stop.set()
        if watcher is not None:
            await watcher
        await relay


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    from duragraph.services import services
    from duragraph.telemetry import configure_tracing, shutdown_tracing

    if args.port is not None:
        settings = replace(settings, port=args.port)
    if "DURAGRAPH_CORS_ORIGINS" not in os.environ:
        settings = replace(settings, cors_origins=STUDIO_ORIGINS)
    graphs = load_project(settings)  # fail fast on a bad config, before starting anything
    security = security_of(settings)
    settings = dev_host(settings, security.mode)
    data_dir = settings.data_dir.resolve()
    with data_dir_lock(data_dir):
        check_port(settings.host, settings.port)
        with services(data_dir) as ep:
            settings = settings.with_endpoints(ep.database_url, ep.nats_url)
            asyncio.run(migrate(settings))
            configure_tracing("dev")
            try:
                run_server(lambda stop: run_dev(settings, graphs, security, stop, data_dir, not args.no_reload))
            finally:
                shutdown_tracing()
    print("stopped", flush=True)
    return 0
