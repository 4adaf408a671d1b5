"""Talk to the LangGraph agent: stream its tokens, answer its approval question, print the outcome.

    python examples/agent/client.py [--url http://127.0.0.1:8123] [--answer yes] [--message "..."]

Run the server with this example's langgraph.json (`duragraph dev --config examples/agent/langgraph.json`).
The agent's tokens arrive as they are produced (`messages-tuple` stream); when it asks to book the trip
the run stops, durably, and this client answers with `Command(resume=...)`. Exits non-zero unless the
agent finished with an answer.
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


async def stream(client: Any, thread_id: str, **kwargs: Any) -> list[Any]:
    """Print tokens as they stream; return the interrupts the run stopped at (none when it finished)."""
    interrupts: list[Any] = []
    node = None
    async for part in client.runs.stream(thread_id, "agent", stream_mode=["messages-tuple", "updates"], **kwargs):
        if part.event == "messages":
            message, meta = part.data
            if message.get("type") in ("AIMessageChunk", "ai") and message.get("content"):
                if meta.get("langgraph_node") != node:
                    node = meta.get("langgraph_node")
                    print(f"\n[{node}] ", end="", flush=True)
                print(message["content"], end="", flush=True)
        elif part.event == "updates" and "__interrupt__" in part.data:
            interrupts = part.data["__interrupt__"]
        elif part.event == "error":
            raise SystemExit(f"\nrun failed: {part.data}")
    print(flush=True)
    return interrupts


async def main(args: argparse.Namespace) -> int:
    client = get_client(url=args.url, api_key=None)
    thread_id = (await client.threads.create(metadata={"example": "agent"}))["thread_id"]
    print(f"thread {thread_id}")
    pending = await stream(client, thread_id, input={"messages": [{"type": "human", "content": args.message}]})
    while pending:
        for item in pending:
            print(f"-- the agent asks: {item['value'].get('question', item['value'])} -> {args.answer}")
        pending = await stream(client, thread_id, command={"resume": args.answer})
    state = await client.threads.get_state(thread_id)
    final = state["values"]["messages"][-1]
    print(f"answer: {final['content']}")
    tools = [m["name"] for m in state["values"]["messages"] if m["type"] == "tool"]
    print(f"tools used: {', '.join(tools)}")
    return 0 if final["type"] == "ai" and final["content"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--answer", default="yes", help="the answer to the agent's approval question")
    parser.add_argument("--message", default="Plan me a trip to Lisbon, and book it if the weather is good.")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args)))
    except httpx.TransportError as exc:
        sys.exit(f"duragraph: error: cannot reach {args.url} ({exc}); is `duragraph dev` running?")
    except httpx.HTTPStatusError as exc:
        detail = exc.response.json().get("detail") if "json" in exc.response.headers.get("content-type", "") else ""
        sys.exit(f"duragraph: error: {exc.request.method} {exc.request.url.path}: {exc.response.status_code} "
                 f"{detail or exc.response.reason_phrase}")

