"""`duragraph`: the command line. Servers (dev, api, worker, relay, migrate, replay), projects (new) and a
client of a running server (run, runs, threads, inbox, resume).

Only the argument parser is built at start-up: each command's module is imported when it runs, so
`duragraph --help` stays fast. Every failure is one line `duragraph: error: ...` and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from duragraph.errors import CliError, user_code_location
from duragraph.settings import Settings

LOG_FORMATS = ("text", "json")  # duragraph.logs.FORMATS (not imported here: it pulls in the engine)


class Parser(argparse.ArgumentParser):
    """Usage mistakes are one line too (`--help` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"duragraph: error: {self.prog.removeprefix('duragraph ')}: {message}\n"
                  if self.prog != "duragraph" else f"duragraph: error: {message}\n")


def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (1-65535)")
    return number


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("duragraph")
    except PackageNotFoundError:  # run from a source checkout that is not installed
        return "(not installed)"


def common_options() -> Parser:
    """Options accepted before or after the subcommand (SUPPRESS: a subcommand never resets them)."""
    p = Parser(add_help=False)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                   help="config file naming the graphs (default: ./duragraph.json, else ./langgraph.json; "
                        "env DURAGRAPH_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress (INFO)")
    p.add_argument("--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS,
                   help="text (default) or json: one JSON object per line (env DURAGRAPH_LOG_FORMAT)")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    p = Parser(prog="duragraph", parents=[common],
                                description="Durable execution engine for LangGraph graphs")
    p.add_argument("--version", action="version", version=f"duragraph {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, target: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, parents=[common], help=help, description=help)
        sp.set_defaults(target=target)
        return sp

    d = command("dev", "duragraph.dev:cmd_dev",
                "embedded Postgres + NATS, migrate, api + worker + relay in one command, reloading on edits")
    d.add_argument("--port", type=port, help="API port (default 8123; env PORT / DURAGRAPH_PORT)")
    d.add_argument("--no-reload", action="store_true", help="do not reload graph code when files change")
    command("migrate", "duragraph.serve:cmd_migrate", "apply database migrations (DATABASE_URL)")
    command("api", "duragraph.serve:cmd_api", "serve the HTTP API (DATABASE_URL)")
    w = command("worker", "duragraph.serve:cmd_worker", "run graph steps (DATABASE_URL)")
    w.add_argument("--concurrency", type=positive_int)
    rl = command("relay", "duragraph.serve:cmd_relay", "mirror the outbox to NATS JetStream")
    for sp in (w, rl):  # processes without an HTTP server of their own
        sp.add_argument("--metrics-port", type=port, help="serve Prometheus metrics on this port (GET /metrics)")
    r = command("replay", "duragraph.serve:cmd_replay",
                "rebuild a run's state from its events and compare with what is stored")
    r.add_argument("run_id")

    n = command("new", "duragraph.scaffold:cmd_new", "create a project from a template")
    n.add_argument("dir", nargs="?", type=Path, help="where (default: a new folder named after the template)")
    n.add_argument("-t", "--template", default="minimal", help="template name (default: minimal)")
    n.add_argument("--list", action="store_true", help="list the templates")

    from_client = Parser(add_help=False)  # client commands: talk to a running server
    from_client.add_argument("--url", default=argparse.SUPPRESS,
                             help="server URL (default: env DURAGRAPH_URL, else http://127.0.0.1:8123)")
    from_client.add_argument("--api-key", default=argparse.SUPPRESS,
                             help="x-api-key (default: env DURAGRAPH_API_KEY / LANGGRAPH_API_KEY)")
    from_client.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print JSON instead of tables")

    def client(parent: argparse._SubParsersAction, name: str, fn: str,  # type: ignore[type-arg]
               help: str) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, parents=[common, from_client], help=help,
                                                        description=help)
        sp.set_defaults(target=f"duragraph.client:{fn}")
        return sp

    run = client(sub, "run", "cmd_run", "start a run of a graph")
    run.add_argument("graph", help="graph id (or assistant id)")
    run.add_argument("--input", default="{}", help="the run's input, as JSON (default {})")
    run.add_argument("--thread", help="run on this thread (default: a new thread)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--wait", action="store_true", help="wait for the run, showing nodes as they commit")
    mode.add_argument("--stream", action="store_true", help="print the run's updates as they happen")

    runs = sub.add_parser("runs", help="list, inspect, follow and cancel runs").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    client(runs, "list", "cmd_runs_list", "the runs of a thread").add_argument("thread")
    for name, fn, help in (("get", "cmd_runs_get", "one run"),
                           ("tail", "cmd_runs_tail", "follow a run's events until it ends"),
                           ("cancel", "cmd_runs_cancel", "cancel a run")):
        sp = client(runs, name, fn, help)
        sp.add_argument("thread")
        sp.add_argument("run")

    threads = sub.add_parser("threads", help="list and inspect threads").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    tl = client(threads, "list", "cmd_threads_list", "recent threads")
    tl.add_argument("--status", choices=("idle", "busy", "interrupted", "error"))
    tl.add_argument("--limit", type=positive_int, default=20)
    for name, fn, help in (("get", "cmd_threads_get", "one thread"),
                           ("state", "cmd_threads_state", "a thread's current state"),
                           ("history", "cmd_threads_history", "a thread's checkpoints, newest first")):
        client(threads, name, fn, help).add_argument("thread")

    client(sub, "inbox", "cmd_inbox", "threads waiting on an interrupt, with what they ask")
    rs = client(sub, "resume", "cmd_resume", "answer a thread's interrupt and wait for the run")
    rs.add_argument("thread")
    rs.add_argument("--value", required=True, help="the answer, as JSON")
    rs.add_argument("--id", help="which interrupt (when several are pending)")
    return p


def settings_for(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise CliError(f"a DURAGRAPH_* / PORT environment variable is not a number: {exc}") from None
    if getattr(args, "log_format", None):
        settings = replace(settings, log_format=args.log_format)
    if settings.log_format not in LOG_FORMATS:
        raise CliError(f"DURAGRAPH_LOG_FORMAT must be one of {list(LOG_FORMATS)}, got {settings.log_format!r}")
    config = getattr(args, "config", None)
    if config is not None:
        settings = replace(settings, config_path=config)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    try:
        settings = settings_for(args)
        module, _, name = args.target.partition(":")
        if not module.endswith(("client", "scaffold")):  # the server processes log; the client prints
            from duragraph.logs import configure_logging

            configure_logging(settings.log_format, logging.INFO if verbose else logging.WARNING)
        return int(getattr(importlib.import_module(module), name)(settings, args))
    except CliError as exc:
        where = user_code_location(exc)
        message = str(exc) if not where or where in str(exc) else f"{exc} (at {where})"
        print(f"duragraph: error: {message}", file=sys.stderr)
        if verbose and exc.__cause__ is not None:
            import traceback

            traceback.print_exception(exc.__cause__, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
