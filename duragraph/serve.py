"""The server processes: migrate, api, worker, relay, replay (`duragraph dev` runs api + worker + relay
together, see duragraph.dev). Every start-up failure a user can cause is a CliError: one line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from duragraph.errors import CliError
from duragraph.limits import Limits
from duragraph.settings import Settings

log = logging.getLogger("duragraph")


def config_file(settings: Settings) -> Path:
    """The config file, or one line on what was looked for and what to do."""
    path = settings.config_path
    if path.is_dir():
        raise CliError(f"--config names a directory, not a config file: {path} "
                       f"(did you mean {path / 'langgraph.json'}?)")
    if not path.exists():
        if path == Path("duragraph.json"):  # the default: nothing named, nothing found
            raise CliError(f"config file not found: no duragraph.json or langgraph.json in {Path.cwd()}; "
                           "create a project with `duragraph new`, or name a config with --config")
        raise CliError(f"config file not found: {path}")
    return path


def load_project(settings: Settings) -> dict[str, object]:
    """The graphs the config names."""
    from duragraph.config import load_graphs, read_config

    return dict(load_graphs(read_config(config_file(settings))))


def security_of(settings: Settings) -> Any:
    """How the API authenticates: the config's "auth" handler, else DURAGRAPH_API_KEYS, else open."""
    from api.auth import CustomAuth, Security
    from duragraph.config import ConfigError, load_auth, read_config

    auth = load_auth(read_config(config_file(settings)))
    try:
        custom = CustomAuth(auth) if auth is not None else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Security(custom=custom, api_keys=frozenset(settings.api_keys))


def with_http_options(settings: Settings) -> Settings:
    """The settings with the config's "http" options (disable_mcp, disable_a2a), when there is a config."""
    from duragraph.config import read_config

    path = settings.config_path
    if not path.is_file():
        return settings
    config = read_config(path)
    return replace(settings, disable_mcp=config.disable_mcp, disable_a2a=config.disable_a2a)


def redact(url: str) -> str:
    """A connection URL without its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


async def check_database(url: str, timeout: float = 10.0, *, reachable: bool = True) -> None:
    """Connect once to DATABASE_URL, turning every way that fails into one line (`reachable=False`: only
    a malformed URL fails; a worker waits for a database that is down)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        if not reachable:
            return
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or "timed out")
        raise CliError(f"cannot reach the database at {redact(url)}: {reason}") from None
    except (ValueError, asyncpg.exceptions.ClientConfigurationError) as exc:
        raise CliError(f"DATABASE_URL is malformed ({redact(url)}): {exc}") from None
    except asyncpg.PostgresError as exc:
        if not reachable:
            return
        raise CliError(f"the database at {redact(url)} refused the connection: {exc}") from None
    await conn.close()


def require_db(settings: Settings, *, reachable: bool = True) -> None:
    if not settings.database_url:
        raise CliError("DATABASE_URL is not set (use `duragraph dev` for the embedded database)")
    asyncio.run(check_database(settings.database_url, reachable=reachable))


def run_server(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a long-lived component until SIGINT/SIGTERM, on uvloop when it is installed (it is a dependency
    on POSIX): measured with benchmarks/api_throughput.py, a cheaper event loop for the API, the workers
    and the relay."""
    try:
        import uvloop
    except ImportError:  # Windows
        asyncio.run(until_signal(main))
    else:
        uvloop.run(until_signal(main))


async def until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await main(stop)


def uvicorn_limits(limits: Limits) -> dict[str, Any]:
    """uvicorn's own connection limits: the idle keep-alive timeout and the largest request head (h11)."""
    return {"timeout_keep_alive": limits.keepalive_seconds, "h11_max_incomplete_event_size": limits.header_bytes}


async def serve_api(settings: Settings, graphs: dict[str, object], stop: asyncio.Event, security: Any = None,
                    started: Callable[[], None] | None = None, drain: int | None = None) -> None:
    """Serve until `stop`; `started()` is called once the socket listens. Then open requests and streams
    get `drain` seconds (default: the shutdown grace) before they are cut (an SSE client resumes with
    Last-Event-ID). A port that cannot be bound is a CliError (and sets `stop`, so the components beside
    it end too)."""
    import uvicorn

    from api.app import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # this process's signal handlers (set in until_signal) stop every component together

    settings = with_http_options(settings)
    app = create_app(database_url=settings.database_url, graphs=graphs, settings=settings, security=security)
    server = Server(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="critical", lifespan="on",
        ws="websockets-sansio",  # the protocol's WebSockets
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds) if drain is None else drain,
        **uvicorn_limits(settings.limits)))
    task = asyncio.create_task(server.serve())
    waiter = asyncio.create_task(stop.wait())
    while not server.started and not task.done() and not stop.is_set():
        await asyncio.wait({task, waiter}, timeout=0.02, return_when=asyncio.FIRST_COMPLETED)
    if server.started and started is not None:
        started()
    if not task.done():
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    server.should_exit = True
    try:
        await task
    except SystemExit:  # uvicorn's way of saying it could not bind or start
        stop.set()
        raise CliError(f"the API could not start on {settings.host}:{settings.port} "
                       "(port in use, or the database unreachable)") from None
    if not server.started and not stop.is_set():
        stop.set()
        raise CliError(f"the API could not start on {settings.host}:{settings.port}")


async def serve_worker(settings: Settings, graphs: dict[str, object], stop: asyncio.Event) -> None:
    from engine.durable.worker import run_worker

    await run_worker(
        database_url=settings.database_url, graphs=graphs,  # type: ignore[arg-type]
        subject_prefix=settings.subject_prefix, concurrency=settings.worker_concurrency,
        stalled_after=settings.stalled_after_seconds, reaper_interval=settings.reaper_interval_seconds,
        shutdown_grace=settings.shutdown_grace_seconds, run_timeout=settings.run_timeout_seconds,
        idempotency_retention=settings.idempotency_retention_seconds,
        job_retention=settings.job_retention_seconds, stop=stop,
        install_signal_handlers=False, state_bytes=settings.limits.state_bytes,
        pending_runs_per_thread=settings.limits.pending_runs_per_thread,
    )


async def serve_relay(settings: Settings, stop: asyncio.Event) -> None:
    from relay.config import RelayConfig
    from relay.relay import run_relay

    await run_relay(
        RelayConfig(database_url=settings.database_url, nats_url=settings.nats_url, stream=settings.nats_stream,
                    subject_prefix=settings.subject_prefix),
        stop=stop,
    )


async def migrate(settings: Settings) -> list[str]:
    from engine.durable.migrate import migrate

    return await migrate(settings.database_url)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    require_db(settings)
    applied = asyncio.run(migrate(settings))
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_api(settings: Settings, _args: argparse.Namespace) -> int:
    from duragraph.telemetry import configure_tracing, shutdown_tracing

    graphs = load_project(settings)
    security = security_of(settings)
    require_db(settings)
    configure_tracing("api")

    def started() -> None:
        print(f"DuraGraph API listening on http://{settings.host}:{settings.port} "
              f"(graphs: {', '.join(sorted(graphs))}; database {redact(settings.database_url)})", flush=True)

    try:
        run_server(lambda stop: serve_api(settings, graphs, stop, security, started))
    finally:
        shutdown_tracing()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from duragraph.telemetry import configure_tracing, metrics_server, shutdown_tracing

    if args.concurrency:
        settings = replace(settings, worker_concurrency=args.concurrency)
    graphs = load_project(settings)
    require_db(settings, reachable=False)  # a worker started while the database is down waits for it
    configure_tracing("worker")
    try:
        with metrics_server(args.metrics_port or settings.metrics_port, settings.host):
            run_server(lambda stop: serve_worker(settings, graphs, stop))
    finally:
        shutdown_tracing()
    return 0


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    from duragraph.telemetry import metrics_server

    if not settings.nats_url:
        raise CliError("NATS_URL is not set")
    require_db(settings, reachable=False)  # like a worker: started while the database is down, it waits for it
    with metrics_server(args.metrics_port or settings.metrics_port, settings.host):
        run_server(lambda stop: serve_relay(settings, stop))
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from engine.durable.replay import replay_run

    try:
        run_id = uuid.UUID(args.run_id)
    except ValueError:
        raise CliError(f"not a run id: {args.run_id!r}") from None
    graphs = load_project(settings)
    require_db(settings)
    report = asyncio.run(replay_run(settings.database_url, graphs, run_id))  # type: ignore[arg-type]
    print(report.render())
    return 0 if report.ok else 1
