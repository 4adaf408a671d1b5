"""Run the parallel research graph and watch it: `updates` stream events as each task commits.

    python examples/research/client.py [--url http://127.0.0.1:8123] [--wait]

Streams the run with `client.runs.stream(..., stream_mode="updates")` and prints one line per node
update (the `research` tasks of the fan-out arrive as they finish), then the report from the thread's
state. `--wait` uses `client.runs.wait` instead of streaming. Exits non-zero on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

try:
    import httpx
    from langgraph_sdk import get_client
except ImportError:
    sys.exit("duragraph: error: this client needs langgraph-sdk: pip install -e '.[examples]'")

GRAPH = "research"


def describe(node: str, update: dict[str, Any] | None) -> str:
    update = update or {}
    if node == "plan":
        return f"plan: {len(update.get('subtopics', []))} subtopics: {', '.join(update.get('subtopics', []))}"
    if node == "research":
        return "research: " + "; ".join(f"{f['subtopic']} -> {f['note']}" for f in update.get("findings", []))
    if node == "write_report":
        return "write_report: done"
    return f"{node}: {update}"


async def main(args: argparse.Namespace) -> int:
    client = get_client(url=args.url, api_key=None)
    thread = await client.threads.create(metadata={"example": "research"})
    thread_id = thread["thread_id"]
    print(f"thread {thread_id}: researching {args.question!r}")
    payload = {"question": args.question}
    if args.wait:
        result = await client.runs.wait(thread_id, GRAPH, input=payload)
        if "__error__" in result:
            print(f"run failed: {result['__error__']}", file=sys.stderr)
            return 1
    else:
        async for part in client.runs.stream(thread_id, GRAPH, input=payload, stream_mode="updates"):
            if part.event == "metadata":
                print(f"run {part.data['run_id']}: streaming updates")
            elif part.event == "updates":
                for node, update in part.data.items():
                    print(f"  update  {describe(node, update)}")
            elif part.event == "error":
                print(f"run failed: {part.data}", file=sys.stderr)
                return 1
    state = await client.threads.get_state(thread_id)
    values = state["values"]
    if len(values.get("findings", [])) != len(values.get("subtopics", [])) or not values.get("report"):
        print(f"incomplete result: {values}", file=sys.stderr)
        return 1
    print(f"{len(values['findings'])} findings merged by the reducer; report:")
    print(values["report"])
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8123", help="DuraGraph API (default: %(default)s)")
    p.add_argument("--question", default="What makes an agent run durable?")
    p.add_argument("--wait", action="store_true", help="use runs.wait instead of streaming updates")
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
