"""Start the long-running job and print its progress until it finishes, whatever happens to workers.

    python examples/long_running/client.py [--url http://127.0.0.1:8123] [--steps 5] [--step-seconds 3]

Creates a background run (`client.runs.create`), then polls the thread's state (one checkpoint per
committed step) and the run's status, printing each step as it commits. Kill the worker while this
runs and start another, or stop and restart the whole server (the client waits for the API to come
back): the run still completes, each step's request filed once. Exits non-zero unless the run
succeeds with every step done and one distinct receipt per step.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import httpx
    from langgraph_sdk import get_client
except ImportError:
    sys.exit("duragraph: error: this client needs langgraph-sdk: pip install -e '.[examples]'")

GRAPH = "long_running"
DEFAULT_LEDGER = Path(tempfile.gettempdir()) / "duragraph-long-running"  # as in graph.py
TERMINAL = {"success", "error", "timeout", "interrupted"}


def show_receipt(r: dict[str, Any]) -> str:
    how = "replayed: idempotency key seen before, not filed again" if r.get("replayed") else "filed"
    return f"receipt {r['receipt']} ({how})"


async def main(args: argparse.Namespace) -> int:
    client = get_client(url=args.url, api_key=None)
    thread = await client.threads.create(metadata={"example": "long_running"})
    thread_id = thread["thread_id"]
    job = {"total_steps": args.steps, "step_seconds": args.step_seconds, "ledger_dir": str(args.ledger_dir.resolve())}
    run = await client.runs.create(thread_id, GRAPH, input=job)
    run_id = run["run_id"]
    print(f"thread {thread_id}, run {run_id}: {args.steps} steps of {args.step_seconds}s", flush=True)
    started = time.monotonic()
    seen = 0
    unreachable_since: float | None = None
    while True:
        try:
            run = await client.runs.get(thread_id, run_id)
            values = (await client.threads.get_state(thread_id))["values"] or {}
        except httpx.TransportError as exc:
            # the API is down (restarting, say): the run is in Postgres, keep asking for a while
            now = time.monotonic()
            if unreachable_since is None:
                unreachable_since = now
                print(f"API unreachable ({exc}); retrying for up to {args.patience:.0f}s", flush=True)
            elif now - unreachable_since > args.patience:
                raise
            await asyncio.sleep(1.0)
            continue
        if unreachable_since is not None:
            print("API reachable again", flush=True)
            unreachable_since = None
        done, receipts = values.get("done", []), values.get("receipts", [])
        for step, receipt in list(zip(done, receipts, strict=False))[seen:]:
            elapsed = time.monotonic() - started
            print(f"[{elapsed:5.1f}s] step {step}/{args.steps} committed, {show_receipt(receipt)}", flush=True)
        seen = len(done)
        if run["status"] in TERMINAL:
            break
        await asyncio.sleep(args.poll)
    if run["status"] != "success":
        print(f"run {run_id} ended {run['status']}", file=sys.stderr)
        return 1
    receipts = {r["receipt"] for r in values["receipts"]}
    if values.get("done") != list(range(1, args.steps + 1)) or len(receipts) != args.steps:
        print(f"unexpected result: {values}", file=sys.stderr)
        return 1
    print(f"run {run_id}: success in {time.monotonic() - started:.1f}s: {values['summary']}", flush=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8123", help="DuraGraph API (default: %(default)s)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--step-seconds", type=float, default=3.0)
    p.add_argument("--ledger-dir", type=Path, default=DEFAULT_LEDGER,
                   help="the stand-in external service's directory, on the worker's machine (default: %(default)s)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between progress checks")
    p.add_argument("--patience", type=float, default=120.0,
                   help="seconds to keep retrying while the API is unreachable (default: %(default)s)")
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    try:
        sys.exit(asyncio.run(main(args)))
    except httpx.TransportError as exc:
        sys.exit(f"duragraph: error: cannot reach {args.url} ({exc}); is `duragraph dev` running?")
    except httpx.HTTPStatusError as exc:
        detail = exc.response.json().get("detail") if "json" in exc.response.headers.get("content-type", "") else ""
        sys.exit(f"duragraph: error: {exc.request.method} {exc.request.url.path}: {exc.response.status_code} "
                 f"{detail or exc.response.reason_phrase}")
