"""`duragraph`: dev (everything in one command), migrate, api, worker, relay, replay."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from duragraph.config import ConfigError, load_auth, load_graphs, read_config
from duragraph.logs import FORMATS, configure_logging
from duragraph.settings import Settings
from duragraph.telemetry import configure_tracing, metrics_server, shutdown_tracing

log = logging.getLogger("duragraph")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _graphs(settings: Settings) -> dict[str, object]:
    return dict(load_graphs(read_config(settings.config_path)))


def _security(settings: Settings) -> Any:
    """How the API authenticates: the config's "auth" handler, else DURAGRAPH_API_KEYS, else open."""
    from api.auth import CustomAuth, Security

    auth = load_auth(read_config(settings.config_path))
    try:
        custom = CustomAuth(auth) if auth is not None else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Security(custom=custom, api_keys=frozenset(settings.api_keys))


def _require_db(settings: Settings) -> None:
    if not settings.database_url:
        raise CliError("DATABASE_URL is not set (use `duragraph dev` for the embedded database)")


async def _until_signal(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await main(stop)


async def serve_api(settings: Settings, graphs: dict[str, object], stop: asyncio.Event,
                    security: Any = None) -> None:
    import uvicorn

    from api.app import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # this process's signal handlers (set in _until_signal) stop every component together

    app = create_app(database_url=settings.database_url, graphs=graphs, settings=settings, security=security)
    server = Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task


async def serve_worker(settings: Settings, graphs: dict[str, object], stop: asyncio.Event) -> None:
    from engine.durable.worker import run_worker

    await run_worker(
        database_url=settings.database_url, graphs=graphs,  # type: ignore[arg-type]
        subject_prefix=settings.subject_prefix, concurrency=settings.worker_concurrency,
        stalled_after=settings.stalled_after_seconds, reaper_interval=settings.reaper_interval_seconds,
        stop=stop, install_signal_handlers=False,
    )


async def serve_relay(settings: Settings, stop: asyncio.Event) -> None:
    from relay.config import RelayConfig
    from relay.relay import run_relay

    await run_relay(
        RelayConfig(database_url=settings.database_url, nats_url=settings.nats_url, stream=settings.nats_stream,
                    subject_prefix=settings.subject_prefix, retention_seconds=settings.outbox_retention_seconds),
        stop=stop,
    )


async def _migrate(settings: Settings) -> list[str]:
    from engine.durable.migrate import migrate

    return await migrate(settings.database_url)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    _require_db(settings)
    applied = asyncio.run(_migrate(settings))
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_api(settings: Settings, _args: argparse.Namespace) -> int:
    _require_db(settings)
    graphs = _graphs(settings)
    security = _security(settings)
    configure_tracing("api")
    try:
        asyncio.run(_until_signal(lambda stop: serve_api(settings, graphs, stop, security)))
    finally:
        shutdown_tracing()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    _require_db(settings)
    if args.concurrency:
        settings = replace(settings, worker_concurrency=args.concurrency)
    graphs = _graphs(settings)
    configure_tracing("worker")
    try:
        with metrics_server(args.metrics_port or settings.metrics_port, settings.host):
            asyncio.run(_until_signal(lambda stop: serve_worker(settings, graphs, stop)))
    finally:
        shutdown_tracing()
    return 0


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    _require_db(settings)
    if not settings.nats_url:
        raise CliError("NATS_URL is not set")
    with metrics_server(args.metrics_port or settings.metrics_port, settings.host):
        asyncio.run(_until_signal(lambda stop: serve_relay(settings, stop)))
    return 0


def dev_host(settings: Settings, auth_mode: str) -> Settings:
    """`duragraph dev` without any authentication serves on the loopback interface only."""
    if auth_mode == "open" and settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("no authentication is configured: `duragraph dev` serves on 127.0.0.1, not %s", settings.host)
        return replace(settings, host="127.0.0.1")
    return settings


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    from duragraph.services import services

    if args.port:
        settings = replace(settings, port=args.port)
    graphs = _graphs(settings)  # fail fast on a bad config, before starting anything
    security = _security(settings)
    settings = dev_host(settings, security.mode)
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with services(data_dir) as ep:
        settings = settings.with_endpoints(ep.database_url, ep.nats_url)
        asyncio.run(_migrate(settings))
        base = f"http://{settings.host}:{settings.port}"
        print(f"DuraGraph is running\n  API:   {base}\n  Docs:  {base}/docs\n  Data:  {data_dir}\n"
              f"  Graphs: {', '.join(sorted(graphs))}\nPress Ctrl-C to stop.", flush=True)

        async def main(stop: asyncio.Event) -> None:
            await asyncio.gather(
                serve_api(settings, graphs, stop, security), serve_worker(settings, graphs, stop),
                serve_relay(settings, stop),
            )

        configure_tracing("dev")
        try:
            asyncio.run(_until_signal(main))
        finally:
            shutdown_tracing()
    print("stopped", flush=True)
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from engine.durable.replay import replay_run

    _require_db(settings)
    try:
        run_id = uuid.UUID(args.run_id)
    except ValueError:
        raise CliError(f"not a run id: {args.run_id!r}") from None
    graphs = _graphs(settings)
    report = asyncio.run(replay_run(settings.database_url, graphs, run_id))  # type: ignore[arg-type]
    print(report.render())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="duragraph", description="Durable execution engine for agent graphs")
    p.add_argument("--config", type=Path, help="config file naming the graphs (default: duragraph.json)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--log-format", choices=FORMATS, help="text (default) or json: one JSON object per line "
                   "(env DURAGRAPH_LOG_FORMAT)")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dev", help="embedded Postgres + NATS, migrate, api + worker + relay in one command")
    d.add_argument("--port", type=int)
    d.set_defaults(fn=cmd_dev)
    sub.add_parser("migrate", help="apply database migrations (DATABASE_URL)").set_defaults(fn=cmd_migrate)
    sub.add_parser("api", help="serve the HTTP API").set_defaults(fn=cmd_api)
    w = sub.add_parser("worker", help="run graph steps")
    w.add_argument("--concurrency", type=int)
    w.set_defaults(fn=cmd_worker)
    rl = sub.add_parser("relay", help="mirror the outbox to NATS JetStream")
    rl.set_defaults(fn=cmd_relay)
    for sp in (w, rl):  # processes without an HTTP server of their own
        sp.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (GET /metrics)")
    r = sub.add_parser("replay", help="rebuild a run's state from its events and compare with what is stored")
    r.add_argument("run_id")
    r.set_defaults(fn=cmd_replay)
    for sp in (d, w, r):
        sp.add_argument("--config", type=Path, dest="sub_config", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if args.log_format:
        settings = replace(settings, log_format=args.log_format)
    if settings.log_format not in FORMATS:
        print(f"duragraph: error: DURAGRAPH_LOG_FORMAT must be one of {list(FORMATS)}, got {settings.log_format!r}",
              file=sys.stderr)
        return 2
    configure_logging(settings.log_format, logging.INFO if args.verbose else logging.WARNING)
    config = getattr(args, "sub_config", None) or args.config
    if config is not None:
        settings = replace(settings, config_path=config)
    try:
        return int(args.fn(settings, args))
    except (CliError, ConfigError) as exc:
        print(f"duragraph: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
