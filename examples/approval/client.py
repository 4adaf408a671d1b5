"""Drive the approval graph over the LangGraph Platform API with the official `langgraph-sdk` client.

    python examples/approval/client.py [--url http://127.0.0.1:8123]

Creates a thread, runs the graph until the human review (an interrupt), shows the draft, answers
"revise" with feedback, shows the revised draft, answers "approve", and prints the published text.

`--stop-at-review` leaves the thread waiting at its first review and prints its id; a later
`--thread <id>` picks it up where it stopped (after a server restart, say) and finishes it.
Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

try:
    import httpx
    from langgraph_sdk import get_client
    from langgraph_sdk.schema import Command
except ImportError:
    sys.exit("duragraph: error: this client needs langgraph-sdk: pip install -e '.[examples]'")

GRAPH = "approval"


def show_review(values: dict[str, Any]) -> dict[str, Any]:
    [pending] = values["__interrupt__"]
    request = pending["value"]
    print(f"-- waiting for review (revision {request['revision']})")
    print(f"   draft: {request['draft']}")
    return dict(request)


def answer_for(request: dict[str, Any]) -> Command:
    """The "human": asks for one revision, then approves."""
    if request["revision"] == 0:
        answer = {"action": "revise", "feedback": "add a concrete example"}
    else:
        answer = {"action": "approve"}
    print(f"   answer: {answer}")
    return Command(resume=answer)


async def main(args: argparse.Namespace) -> int:
    client = get_client(url=args.url, api_key=None)
    if args.thread:
        thread_id = args.thread
        thread = await client.threads.get(thread_id)
        if thread["status"] != "interrupted":
            print(f"thread {thread_id} is {thread['status']}, not waiting for a review", file=sys.stderr)
            return 1
        state = await client.threads.get_state(thread_id)
        values: dict[str, Any] = {**state["values"], "__interrupt__": state["interrupts"]}
        print(f"thread {thread_id}: resuming")
    else:
        thread = await client.threads.create(metadata={"example": "approval"})
        thread_id = thread["thread_id"]
        print(f"thread {thread_id}: started")
        values = await client.runs.wait(thread_id, GRAPH, input={"topic": args.topic})
    while values.get("__interrupt__"):
        request = show_review(values)
        if args.stop_at_review:
            print(f"thread {thread_id} is waiting for a review; resume it with --thread {thread_id}")
            return 0
        values = await client.runs.wait(thread_id, GRAPH, command=answer_for(request))
    if not values.get("published"):
        print(f"the run ended without publishing: {values}", file=sys.stderr)
        return 1
    print(f"published: {values['published']}")
    print(f"log: {' -> '.join(values['log'])}")
    thread = await client.threads.get(thread_id)
    print(f"thread {thread_id}: {thread['status']}")
    return 0 if thread["status"] == "idle" else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8123", help="DuraGraph API (default: %(default)s)")
    p.add_argument("--topic", default="Durable execution in one page")
    p.add_argument("--stop-at-review", action="store_true", help="leave the thread waiting at its first review")
    p.add_argument("--thread", help="resume this thread, waiting at a review, instead of starting one")
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
