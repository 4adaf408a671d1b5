"""Replay 128 bad HTTP inputs against a running DuraGraph server: every answer must be a 4xx with
`{"detail", "code"}` and none a 5xx (issue 20). Prints one line per case that is not a 4xx.

    python benchmarks/bad_inputs.py --url http://127.0.0.1:8123 [--api-key KEY]

It creates one thread (and runs the server's first graph once, to have a finished run to cancel).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

JSON = {"content-type": "application/json"}
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def _deep(depth: int) -> bytes:
    return b'{"metadata": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


# bodies that no route may accept (each sent to every JSON route below)
BAD_BODIES: dict[str, bytes] = {
    "malformed JSON": b'{"metadata": ',
    "invalid UTF-8": b'{"metadata": {"a": "\xff\xfe"}}',
    "lone surrogate": b'{"metadata": {"a": "\\ud800"}}',
    "NUL in a string": b'{"metadata": {"a": "x\\u0000y"}}',
    "NUL in a key": b'{"metadata": {"a\\u0000": 1}}',
    "nested 1,000 deep": _deep(1000),
    "a list, not an object": b"[1, 2, 3]",
    "a string, not an object": b'"hello"',
    "trailing garbage": b'{"metadata": {}} xyz',
}


def json_routes(tid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/threads"), ("POST", "/threads/search"), ("POST", "/assistants"), ("POST", "/assistants/search"),
        ("POST", f"/threads/{tid}/runs"), ("POST", f"/threads/{tid}/runs/wait"), ("POST", "/runs/wait"),
        ("POST", f"/threads/{tid}/state"), ("POST", f"/threads/{tid}/history"), ("PUT", "/store/items"),
        ("POST", "/store/items/search"), ("POST", "/runs/crons"),
    ]


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def specific_cases(tid: str, graph: str, finished_run: str) -> Iterator[Case]:
    run = f"/threads/{tid}/runs"
    unknown = str(uuid.uuid4())
    yield Case("recursion_limit not a number", "POST", f"{run}/wait",
               _body({"assistant_id": graph, "config": {"recursion_limit": "x"}}), JSON)
    yield Case("recursion_limit zero", "POST", run, _body({"assistant_id": graph, "config": {"recursion_limit": 0}}),
               JSON)
    yield Case("interrupt_before an unknown node", "POST", run,
               _body({"assistant_id": graph, "interrupt_before": ["no_such_node"]}), JSON)
    yield Case("interrupt_after an unknown node", "POST", run,
               _body({"assistant_id": graph, "interrupt_after": ["no_such_node"]}), JSON)
    yield Case("empty body", "POST", run, b"", JSON)
    yield Case("unknown assistant", "POST", run, _body({"assistant_id": "no-such-graph"}), JSON)
    yield Case("bad stream_mode", "POST", run, _body({"assistant_id": graph, "stream_mode": "bogus"}), JSON)
    yield Case("bad multitask_strategy", "POST", run, _body({"assistant_id": graph, "multitask_strategy": "x"}), JSON)
    yield Case("negative after_seconds", "POST", run, _body({"assistant_id": graph, "after_seconds": -5}), JSON)
    yield Case("webhook not a URL", "POST", run, _body({"assistant_id": graph, "webhook": "not a url"}), JSON)
    yield Case("checkpoint_id not a UUID", "POST", run, _body({"assistant_id": graph, "checkpoint_id": "zzz"}), JSON)
    yield Case("input and command", "POST", run, _body({"assistant_id": graph, "input": {}, "command": {"goto": "x"}}),
               JSON)
    yield Case("bad command key", "POST", run, _body({"assistant_id": graph, "command": {"jump": 1}}), JSON)
    yield Case("resume without a thread", "POST", "/runs/wait",
               _body({"assistant_id": graph, "command": {"resume": 1}}), JSON)
    yield Case("thread id not a UUID", "GET", "/threads/not-a-uuid")
    yield Case("unknown thread", "GET", f"/threads/{unknown}")
    yield Case("unknown thread state", "GET", f"/threads/{unknown}/state")
    yield Case("delete unknown thread", "DELETE", f"/threads/{unknown}")
    yield Case("run id not a UUID", "GET", f"{run}/not-a-uuid")
    yield Case("unknown run", "GET", f"{run}/{unknown}")
    yield Case("cancel a finished run", "POST", f"{run}/{finished_run}/cancel")
    yield Case("negative limit", "GET", run, params={"limit": "-1"})
    yield Case("huge offset", "GET", run, params={"offset": str(2**70)})
    yield Case("limit not a number", "GET", run, params={"limit": "ten"})
    yield Case("huge page", "POST", "/threads/search", _body({"limit": 10**9}), JSON)
    yield Case("negative search offset", "POST", "/threads/search", _body({"offset": -1}), JSON)
    yield Case("bad thread status filter", "POST", "/threads/search", _body({"status": "sleeping"}), JSON)
    yield Case("bad cron expression", "POST", "/runs/crons", _body({"assistant_id": graph, "schedule": "every day"}),
               JSON)
    yield Case("store value not an object", "PUT", "/store/items", _body({"namespace": ["a"], "key": "k", "value": 1}),
               JSON)
    yield Case("store namespace with a dot", "PUT", "/store/items",
               _body({"namespace": ["a.b"], "key": "k", "value": {}}), JSON)
    yield Case("store get without a key", "GET", "/store/items")
    yield Case("NUL in a query parameter", "GET", "/store/items", params={"key": "a\x00b", "namespace": "x"})
    yield Case("NUL in a path", "GET", "/assistants/a%00b")
    yield Case("bad Last-Event-ID", "GET", f"{run}/{finished_run}/stream", headers={"Last-Event-ID": "abc"})
    yield Case("unknown stream mode in a join", "GET", f"{run}/{finished_run}/stream",
               params={"stream_mode": "bogus"})
    yield Case("body over the size limit", "POST", "/threads", b'{"metadata": {"a": "' + b"x" * (40 * MIB) + b'"}}',
               JSON)
    yield Case("wrong method", "DELETE", "/threads/search")
    yield Case("unknown route", "GET", "/no/such/route")
    yield Case("wrong content type", "POST", "/threads", b"metadata=1", {"content-type": "text/plain"})
    yield Case("assistant version zero", "POST", f"/assistants/{unknown}/latest", _body({"version": 0}), JSON)
    yield Case("update state of an unknown thread", "POST", f"/threads/{unknown}/state", _body({"values": {}}), JSON)
    yield Case("history before not a UUID", "POST", f"/threads/{tid}/history",
               _body({"before": {"configurable": {"checkpoint_id": "zzz"}}}), JSON)
    yield Case("copy an unknown thread", "POST", f"/threads/{unknown}/copy")
    yield Case("assistant config not an object", "POST", "/assistants", _body({"graph_id": graph, "config": "x"}), JSON)
    yield Case("assistant for an unknown graph", "POST", "/assistants", _body({"graph_id": "no-such-graph"}), JSON)
    yield Case("ttl negative", "PUT", "/store/items", _body({"namespace": ["a"], "key": "k", "value": {}, "ttl": -1}),
               JSON)


def all_cases(tid: str, graph: str, finished_run: str) -> list[Case]:
    cases = [Case(f"{name} -> {method} {path}", method, path, body, JSON)
             for method, path in json_routes(tid) for name, body in BAD_BODIES.items()]
    cases.extend(specific_cases(tid, graph, finished_run))
    return cases


def setup(http: httpx.Client) -> tuple[str, str, str]:
    graphs = http.post("/assistants/search", json={"limit": 1}).json()
    graph = graphs[0]["graph_id"]
    tid = http.post("/threads", json={}).json()["thread_id"]
    run = http.post(f"/threads/{tid}/runs", json={"assistant_id": graph, "input": {}}).json()
    http.get(f"/threads/{tid}/runs/{run['run_id']}/join", timeout=60)
    return tid, graph, run["run_id"]


def replay(url: str, api_key: str | None = None) -> tuple[int, list[str], list[str]]:
    """(cases sent, cases answered 5xx, cases answered something other than a 4xx with detail/code)."""
    headers = {"x-api-key": api_key} if api_key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        tid, graph, finished = setup(http)
        cases = all_cases(tid, graph, finished)
        server_errors: list[str] = []
        other: list[str] = []
        for case in cases:
            try:
                r = http.request(case.method, case.path, content=case.body, headers=case.headers, params=case.params)
            except httpx.TransportError as exc:  # a refused oversize upload may be cut off: a 413 was sent
                other.append(f"{case.name}: {type(exc).__name__}")
                continue
            if r.status_code >= 500:
                server_errors.append(f"{case.name}: {r.status_code} {r.text[:200]}")
            elif not 400 <= r.status_code < 500:
                other.append(f"{case.name}: {r.status_code}")
            else:
                body = r.json()
                if not (isinstance(body, dict) and {"detail", "code"} <= set(body)):
                    other.append(f"{case.name}: {r.status_code} without detail/code: {r.text[:200]}")
    return len(cases), server_errors, other


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    total, server_errors, other = replay(args.url, args.api_key)
    for line in server_errors:
        print("5xx:", line)
    for line in other:
        print("not a 4xx:", line)
    print(f"{total} bad inputs: {total - len(server_errors) - len(other)} answered 4xx with detail/code, "
          f"{len(server_errors)} 5xx, {len(other)} other")
    return 1 if server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
