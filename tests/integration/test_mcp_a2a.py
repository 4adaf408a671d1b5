"""/mcp through the official `mcp` client; /a2a through raw JSON-RPC checked against the A2A 0.3
protocol's types (a2a-sdk's schema-generated models); both behind API keys, both disable-able."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import orjson
import pytest
from a2a.compat.v0_3 import types as a2a
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from duragraph.settings import Settings
from tests.integration import graphs as G
from tests.integration import stream_graphs as SG
from tests.integration.engine_support import engine
from tests.integration.server import serve_api

GRAPHS = {"linear": G.linear(3), "chat": SG.chat(), "hitl": G.hitl(), "failing": G.failing()}
KEY = {"x-api-key": "k1"}


@contextlib.asynccontextmanager
async def api(database_url: str, **settings: Any) -> AsyncIterator[str]:
    async with engine(database_url, GRAPHS):
        with serve_api(database_url, GRAPHS, settings=Settings(database_url=database_url, api_keys=("k1",),
                                                               **settings)) as url:
            yield url


@contextlib.asynccontextmanager
async def mcp_client(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:  # type: ignore[arg-type]
        yield client


async def test_mcp_lists_and_calls_assistants(database_url: str) -> None:
    async with api(database_url) as url:
        async with mcp_client(url, KEY) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == set(GRAPHS)
            schema = tools["linear"].input_schema
            assert schema["type"] == "object" and {"n", "trail"} <= set(schema["properties"])
            result = await client.call_tool("linear", {"n": 1, "trail": []})
            assert not result.is_error
            assert result.structured_content == {"n": 4, "trail": ["s0", "s1", "s2"]}
            assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
            failed = await client.call_tool("failing", {})
            assert failed.is_error and "__error__" in (failed.structured_content or {})
            unknown = await client.call_tool("nope", {})
            assert unknown.is_error
        # a user-made assistant is a tool too, named after it
        async with httpx.AsyncClient(base_url=url, headers=KEY) as http:
            await http.post("/assistants", json={"graph_id": "linear", "name": "Linear Helper",
                                                 "description": "adds"})
        async with mcp_client(url, KEY) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert tools["Linear_Helper"].description == "adds"
        # the API's authentication applies
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                headers={"accept": "application/json, text/event-stream"})
            assert r.status_code == 401


async def a2a_call(http: httpx.AsyncClient, aid: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    r = await http.post(f"/a2a/{aid}", json={"jsonrpc": "2.0", "id": "r1", "method": method, "params": params})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def user_message(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": "message", "role": "user", "messageId": str(uuid.uuid4()), "parts": list(parts), **extra}


async def test_a2a_round_trip(database_url: str) -> None:
    async with api(database_url) as url, httpx.AsyncClient(base_url=url, headers=KEY, timeout=60) as http:
        card = (await http.get("/a2a/chat/.well-known/agent-card.json")).json()
        parsed = a2a.AgentCard.model_validate(card)
        assert parsed.capabilities.streaming and parsed.url.endswith(f"/a2a/{card['url'].rsplit('/', 1)[1]}")
        assert (await http.get("/.well-known/agent-card.json", params={"assistant_id": "chat"})).json() == card

        sent = await a2a_call(http, "chat", "message/send", {"message": user_message({"kind": "text", "text": "hi"})})
        response = a2a.SendMessageResponse.model_validate(sent)
        task = response.root.result  # type: ignore[union-attr]
        assert isinstance(task, a2a.Task) and task.status.state == a2a.TaskState.completed
        assert task.artifacts and task.artifacts[0].parts[0].root.text == "Hello there"  # type: ignore[union-attr]
        got = await a2a_call(http, "chat", "tasks/get", {"id": task.id})
        assert a2a.GetTaskResponse.model_validate(got).root.result.id == task.id  # type: ignore[union-attr]
        # the same context continues the thread
        again = await a2a_call(http, "chat", "message/send", {"message": user_message(
            {"kind": "text", "text": "more"}, contextId=task.context_id)})
        values = again["result"]["artifacts"][0]["parts"][1]["data"]
        assert again["result"]["contextId"] == task.context_id
        assert [m["content"] for m in values["messages"]] == ["hi", "Hello there", "more"]  # (the AI id is fixed)

        # an interrupt is input-required; a message naming the task resumes it
        first = await a2a_call(http, "hitl", "message/send", {"message": user_message(
            {"kind": "data", "data": {"amount": 3, "trail": []}})})
        waiting = a2a.SendMessageResponse.model_validate(first).root.result  # type: ignore[union-attr]
        assert isinstance(waiting, a2a.Task) and waiting.status.state == a2a.TaskState.input_required
        resumed = await a2a_call(http, "hitl", "message/send", {"message": user_message(
            {"kind": "data", "data": {"approve": True}}, taskId=waiting.id, contextId=waiting.context_id)})
        assert resumed["result"]["status"]["state"] == "completed"
        assert resumed["result"]["artifacts"][0]["parts"][0]["data"]["trail"] == ["plan", "review", "published"]

        # streaming: the task, status updates, the artifact, a final status
        frames: list[dict[str, Any]] = []
        async with http.stream("POST", "/a2a/chat", json={"jsonrpc": "2.0", "id": 7, "method": "message/stream",
                                                          "params": {"message": user_message(
                                                              {"kind": "text", "text": "stream"})}}) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    frames.append(orjson.loads(line[6:]))
        for f in frames:
            a2a.SendStreamingMessageResponse.model_validate(f)
        kinds = [f["result"]["kind"] for f in frames]
        assert kinds == ["task", "status-update", "artifact-update", "status-update"]
        assert frames[-1]["result"]["final"] and frames[-1]["result"]["status"]["state"] == "completed"

        # errors are JSON-RPC errors
        assert (await a2a_call(http, "chat", "tasks/nope", {}))["error"]["code"] == -32601
        assert (await a2a_call(http, "chat", "tasks/get", {"id": str(uuid.uuid4())}))["error"]["code"] == -32001
        bad = await a2a_call(http, "linear", "message/send", {"message": user_message({"kind": "text", "text": "x"})})
        assert bad["error"]["code"] == -32602
        missing = await http.post(f"/a2a/{uuid.uuid4()}", json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get"})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        async with httpx.AsyncClient(base_url=url) as anonymous:
            assert (await anonymous.get("/a2a/chat/.well-known/agent-card.json")).status_code == 401


@pytest.mark.parametrize("which", ["mcp", "a2a"])
async def test_disabled_in_config(database_url: str, which: str) -> None:
    async with api(database_url, **{f"disable_{which}": True}) as url, \
            httpx.AsyncClient(base_url=url, headers=KEY) as http:
        r = await http.post("/mcp" if which == "mcp" else "/a2a/chat",
                            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"accept": "application/json, text/event-stream"})
        assert r.status_code in (404, 405)
        other = await http.post("/a2a/chat" if which == "mcp" else "/mcp",
                                json={"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}},
                                headers={"accept": "application/json, text/event-stream"})
        assert other.status_code == 200
