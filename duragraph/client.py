"""The command-line client of a running server (`duragraph run|runs|threads|inbox|resume`), built on
langgraph-sdk: tables for people, `--json` for scripts, one line and a non-zero exit on any failure."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from duragraph.errors import CliError
from duragraph.output import Output
from duragraph.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8123"


def server_url(args: argparse.Namespace) -> str:
    return getattr(args, "url", None) or os.environ.get("DURAGRAPH_URL") or DEFAULT_URL


@contextlib.contextmanager
def connected(args: argparse.Namespace) -> Iterator[Any]:
    """A langgraph-sdk sync client; HTTP and connection failures become one line."""
    import httpx
    from langgraph_sdk import get_sync_client

    url = server_url(args)
    key = getattr(args, "api_key", None) or os.environ.get("DURAGRAPH_API_KEY") or os.environ.get("LANGGRAPH_API_KEY")
    client = get_sync_client(url=url, api_key=key)
    try:
        yield client
    except httpx.HTTPStatusError as exc:
        body = exc.response
        try:
            detail = body.json().get("detail") or body.text
        except (ValueError, AttributeError):
            detail = body.text or body.reason_phrase
        raise CliError(f"{exc.request.method} {exc.request.url.path}: {body.status_code} {detail}") from None
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach {url} ({exc or type(exc).__name__}); is `duragraph dev` running? "
                       "(--url or DURAGRAPH_URL for another server)") from None
    finally:
        client.http.client.close()


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON ({exc.msg} at character {exc.pos}): {text!r}") from None


def out(args: argparse.Namespace) -> Output:
    return Output(as_json=bool(getattr(args, "json", False)))


# runs ---------------------------------------------------------------------------------------------

RUN_COLUMNS = ("run_id", "status", "metadata.graph_id", "created_at", "updated_at")


def cmd_runs_list(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        out(args).table(client.runs.list(args.thread, limit=100), RUN_COLUMNS)
    return 0


def cmd_runs_get(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        out(args).record(client.runs.get(args.thread, args.run))
    return 0


def cmd_runs_cancel(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        client.runs.cancel(args.thread, args.run)
        run = client.runs.get(args.thread, args.run)
    out(args).record(run, ("run_id", "status"))
    return 0


def cmd_runs_tail(_s: Settings, args: argparse.Namespace) -> int:
    """The run's events from the start (then live) until it ends."""
    o = out(args)
    with connected(args) as client:
        for part in client.runs.join_stream(args.thread, args.run, last_event_id="0"):
            o.event(part.event, part.data)
        run = client.runs.get(args.thread, args.run)
    o.note(f"run {args.run}: {run['status']}")
    return 0 if run["status"] in ("success", "interrupted") else 1


# threads ------------------------------------------------------------------------------------------

THREAD_COLUMNS = ("thread_id", "status", "metadata.graph_id", "updated_at")


def cmd_threads_list(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        threads = client.threads.search(status=args.status, limit=args.limit, sort_by="updated_at",
                                        sort_order="desc")
    out(args).table(threads, THREAD_COLUMNS)
    return 0


def cmd_threads_get(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        out(args).record(client.threads.get(args.thread))
    return 0


def cmd_threads_state(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        state = client.threads.get_state(args.thread)
    out(args).record(state, ("values", "next", "interrupts", "checkpoint.checkpoint_id", "metadata.step",
                             "created_at"))
    return 0


def cmd_threads_history(_s: Settings, args: argparse.Namespace) -> int:
    with connected(args) as client:
        history = client.threads.get_history(args.thread, limit=100)
    out(args).table(history, ("checkpoint.checkpoint_id", "metadata.step", "metadata.source", "next",
                              "created_at"))
    return 0


# runs started here: progress, result ------------------------------------------------------------

def follow(client: Any, thread_id: str, start: Callable[..., Iterator[Any]], o: Output) -> int:
    """Stream a run's updates showing each node as it commits, then print how it ended."""
    run_id = "?"
    nodes: list[str] = []
    for part in start(stream_mode="updates"):
        if part.event == "metadata":
            run_id = part.data.get("run_id", run_id)
        elif part.event == "updates" and isinstance(part.data, dict):
            nodes += [("interrupt" if name == "__interrupt__" else name) for name in part.data]
            o.progress(f"run {run_id}: {' > '.join(nodes)}")
        elif part.event == "error":
            o.progress_done()
            data = part.data if isinstance(part.data, dict) else {"message": part.data}
            raise CliError(f"run {run_id} failed: {data.get('error', 'Error')}: {data.get('message', '')}")
    o.progress_done()
    thread = client.threads.get(thread_id)
    state = client.threads.get_state(thread_id)
    result = {"thread_id": thread_id, "run_id": run_id, "status": thread["status"], "values": state["values"],
              "interrupts": state.get("interrupts") or []}
    o.record(result)
    if thread["status"] == "interrupted":
        o.note(f"waiting on an interrupt: duragraph resume {thread_id} --value JSON")
    return 1 if thread["status"] == "error" else 0


def cmd_run(_s: Settings, args: argparse.Namespace) -> int:
    value = parse_json(args.input, "--input")
    o = out(args)
    # a new thread is created with the run (if_not_exists), so a refused run leaves no empty thread behind
    thread_id = args.thread or str(uuid.uuid4())
    options = {"input": value, "if_not_exists": None if args.thread else "create"}
    with connected(args) as client:
        if args.wait:
            return follow(client, thread_id, lambda **kw: client.runs.stream(thread_id, args.graph, **options,
                                                                            **kw), o)
        if args.stream:
            for part in client.runs.stream(thread_id, args.graph, stream_mode="updates", **options):
                o.event(part.event, part.data)
            return 0
        run = client.runs.create(thread_id, args.graph, **options)
    o.record(run, ("run_id", "thread_id", "status"))
    o.note(f"follow it: duragraph runs tail {thread_id} {run['run_id']}")
    return 0


def pending_interrupts(thread: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for items in (thread.get("interrupts") or {}).values() for i in items]


def cmd_inbox(_s: Settings, args: argparse.Namespace) -> int:
    rows = []
    with connected(args) as client:
        for thread in client.threads.search(status="interrupted", limit=100, sort_by="updated_at",
                                            sort_order="desc"):
            for item in pending_interrupts(thread):
                rows.append({"thread_id": thread["thread_id"], "graph_id": thread["metadata"].get("graph_id"),
                             "interrupt_id": item.get("id"), "value": item.get("value"),
                             "updated_at": thread["updated_at"]})
    out(args).table(rows, ("thread_id", "graph_id", "interrupt_id", "value", "updated_at"))
    return 0


def cmd_resume(_s: Settings, args: argparse.Namespace) -> int:
    value = parse_json(args.value, "--value")
    with connected(args) as client:
        thread = client.threads.get(args.thread)
        pending = pending_interrupts(thread)
        if thread["status"] != "interrupted" or not pending:
            raise CliError(f"thread {args.thread} is {thread['status']}, not waiting on an interrupt")
        if args.id is not None and args.id not in {i.get("id") for i in pending}:
            raise CliError(f"thread {args.thread} has no pending interrupt {args.id!r} "
                           f"(pending: {', '.join(str(i.get('id')) for i in pending)})")
        if args.id is None and len(pending) > 1:
            raise CliError(f"thread {args.thread} waits on {len(pending)} interrupts; choose one with --id "
                           f"({', '.join(str(i.get('id')) for i in pending)})")
        command = {"resume": {args.id: value} if args.id else value}
        graph = thread["metadata"].get("assistant_id") or thread["metadata"].get("graph_id")
        return follow(client, args.thread,
                      lambda **kw: client.runs.stream(args.thread, graph, command=command, **kw), out(args))


