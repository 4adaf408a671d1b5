"""/openapi.json describes what the routes return: real responses of the resource routes validate against
their published response schemas (named models: Assistant, Thread, Run, ThreadState, Checkpoint, Cron,
Item...), with validation="strict" formats (uuid, date-time) checked."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs

from tests.integration import graphs as G
from tests.integration.engine_support import engine
from tests.integration.server import serve_api

GRAPHS = {"hitl": G.hitl(), "linear": G.linear(2)}
NAMED = {"Assistant", "AssistantVersion", "Thread", "Run", "ThreadState", "Checkpoint", "Cron", "Item",
         "SearchItemsResponse", "ListNamespaceResponse", "ThreadUpdateStateResponse", "ThreadPruneResponse"}
# JSON routes whose 2xx body is not (yet) described by a named model
UNTYPED = {
    ("post", "/threads/{thread_id}/runs/{run_id}/cancel"), ("get", "/ok"), ("get", "/ready"),
    ("post", "/threads/{thread_id}/commands"),
    # the graph's own final values (any object, as upstream documents them)
    ("post", "/threads/{thread_id}/runs/wait"), ("post", "/runs/wait"),
    ("get", "/threads/{thread_id}/runs/{run_id}/join"),
    # SSE bodies
    ("post", "/threads/{thread_id}/runs/stream"), ("post", "/runs/stream"),
    ("get", "/threads/{thread_id}/runs/{run_id}/stream"), ("get", "/threads/{thread_id}/stream"),
    ("post", "/threads/{thread_id}/stream/events"),
    # A2A protocol documents (checked against the A2A schema's types in test_mcp_a2a.py)
    ("get", "/a2a/{assistant_id}/.well-known/agent-card.json"), ("get", "/.well-known/agent-card.json"),
    ("post", "/a2a/{assistant_id}"),
}


def response_schema(doc: dict[str, Any], method: str, template: str, status: int) -> dict[str, Any]:
    responses = doc["paths"][template][method]["responses"]
    content = responses[str(status)]["content"]
    schema: dict[str, Any] = next(iter(content.values()))["schema"]
    return schema


def check(doc: dict[str, Any], method: str, template: str, response: httpx.Response) -> None:
    assert response.status_code < 300, (method, template, response.status_code, response.text[:300])
    schema = response_schema(doc, method, template, response.status_code)
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]},
                                                   validate_formats=True)
    errors = [str(e) for e in validator.iter_errors(response.json())]
    assert not errors, (method, template, errors[:3])


def refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        out = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
        for v in schema.values():
            out |= refs(v)
        return out
    if isinstance(schema, list):
        return set().union(*(refs(v) for v in schema)) if schema else set()
    return set()


async def test_real_responses_validate_against_openapi(database_url: str) -> None:
    async with engine(database_url, GRAPHS):
        with serve_api(database_url, GRAPHS) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                doc = (await http.get("/openapi.json")).json()
                assert NAMED <= set(doc["components"]["schemas"])
                # every JSON route's 2xx body is a named model or a typed value, except the listed ones
                bare = []
                for template, ops in doc["paths"].items():
                    for method, op in ops.items():
                        for status, resp in op.get("responses", {}).items():
                            schema = next(iter((resp.get("content") or {}).values()), {}).get("schema")
                            if status.startswith("2") and schema is not None and not refs(schema) \
                                    and schema.get("type") in ("object", None) and (method, template) not in UNTYPED:
                                bare.append((method, template))
                assert not bare, bare

                calls: list[tuple[str, str, httpx.Response]] = []

                async def call(method: str, template: str, path: str, **kw: Any) -> Any:
                    r = await http.request(method.upper(), path, **kw)
                    calls.append((method, template, r))
                    return r.json() if r.content else None

                a = await call("post", "/assistants", "/assistants", json={"graph_id": "hitl", "name": "a"})
                aid = a["assistant_id"]
                await call("get", "/assistants/{assistant_id}", f"/assistants/{aid}")
                await call("get", "/assistants/{assistant_id}/graph", f"/assistants/{aid}/graph")
                await call("get", "/assistants/{assistant_id}/graph", f"/assistants/{aid}/graph", params={"xray": "1"})
                await call("get", "/assistants/{assistant_id}/schemas", f"/assistants/{aid}/schemas")
                await call("get", "/assistants/{assistant_id}/subgraphs", f"/assistants/{aid}/subgraphs")
                await call("get", "/info", "/info")
                await call("patch", "/assistants/{assistant_id}", f"/assistants/{aid}", json={"metadata": {"x": 1}})
                await call("post", "/assistants/search", "/assistants/search", json={})
                await call("post", "/assistants/{assistant_id}/versions", f"/assistants/{aid}/versions", json={})
                await call("post", "/assistants/{assistant_id}/latest", f"/assistants/{aid}/latest",
                           json={"version": 1})
                t = await call("post", "/threads", "/threads", json={"metadata": {"k": "v"}})
                tid = t["thread_id"]
                run = await call("post", "/threads/{thread_id}/runs", f"/threads/{tid}/runs",
                                 json={"assistant_id": "hitl", "input": {"amount": 2, "trail": []}})
                await http.get(f"/threads/{tid}/runs/{run['run_id']}/join")
                await call("get", "/threads/{thread_id}/runs/{run_id}", f"/threads/{tid}/runs/{run['run_id']}")
                await call("get", "/threads/{thread_id}/runs", f"/threads/{tid}/runs")
                await call("get", "/threads/{thread_id}", f"/threads/{tid}")
                await call("patch", "/threads/{thread_id}", f"/threads/{tid}", json={"metadata": {"k": "w"}})
                await call("post", "/threads/search", "/threads/search", json={})
                state = await call("get", "/threads/{thread_id}/state", f"/threads/{tid}/state")
                cid = state["checkpoint"]["checkpoint_id"]
                await call("get", "/threads/{thread_id}/state/{checkpoint_id}", f"/threads/{tid}/state/{cid}")
                await call("post", "/threads/{thread_id}/state/checkpoint", f"/threads/{tid}/state/checkpoint",
                           json={"checkpoint": {"checkpoint_id": cid}})
                await call("post", "/threads/{thread_id}/history", f"/threads/{tid}/history", json={"limit": 3})
                await call("get", "/threads/{thread_id}/history", f"/threads/{tid}/history")
                await call("post", "/threads/{thread_id}/state", f"/threads/{tid}/state",
                           json={"values": {"trail": ["edited"]}})
                await call("post", "/threads/{thread_id}/copy", f"/threads/{tid}/copy")
                await call("post", "/runs", "/runs", json={"assistant_id": "linear", "input": {"n": 0, "trail": []}})
                await call("post", "/runs/batch", "/runs/batch",
                           json=[{"assistant_id": "linear", "input": {"n": 0, "trail": []}}])
                cron = await call("post", "/runs/crons", "/runs/crons",
                                  json={"assistant_id": "linear", "schedule": "0 0 * * *", "input": {"n": 0}})
                await call("post", "/threads/{thread_id}/runs/crons", f"/threads/{tid}/runs/crons",
                           json={"assistant_id": "linear", "schedule": "0 0 * * *"})
                await call("get", "/runs/crons/{cron_id}", f"/runs/crons/{cron['cron_id']}")
                await call("patch", "/runs/crons/{cron_id}", f"/runs/crons/{cron['cron_id']}",
                           json={"enabled": False})
                await call("post", "/runs/crons/search", "/runs/crons/search", json={})
                await http.put("/store/items", json={"namespace": ["a", "b"], "key": "k", "value": {"v": 1}})
                await call("get", "/store/items", "/store/items", params={"namespace": "a.b", "key": "k"})
                await call("post", "/store/items/search", "/store/items/search", json={"namespace_prefix": ["a"]})
                await call("post", "/store/namespaces", "/store/namespaces", json={})
                await call("post", "/threads/prune", "/threads/prune", json={"thread_ids": [tid]})
                for method, template, response in calls:
                    check(doc, method, template, response)
                assert len(calls) >= 30
