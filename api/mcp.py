"""/mcp: every assistant as a Model Context Protocol tool, over Streamable HTTP with JSON responses.

The protocol is the official `mcp` package's (its low-level `Server` and stateless
`StreamableHTTPSessionManager`, mounted here as an ASGI app): `initialize`, `tools/list` (one tool per
assistant the caller may see: its name, description and the graph's input JSON Schema) and
`tools/call` (a run of that assistant on a temporary thread, its final values as the result;
`isError` when the run failed). Requests pass the API's authentication like every route, and the
run is authorized as `POST /runs/wait` would be. `"http": {"disable_mcp": true}` in the config
leaves the route out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
import orjson
from litestar import Litestar, asgi
from litestar.datastructures import State
from litestar.types import Receive, Scope, Send
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from api import runs as runs_api
from api.auth import AuthUser, Authz
from api.run_payload import RunCreate
from engine.core import codec
from engine.durable import assistants
from engine.errors import ServiceError

_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def authz_of(state: State, scope: Mapping[str, Any]) -> Authz:
    """The caller's Authz from an ASGI scope the auth middleware has seen."""
    user = scope.get("user")
    return Authz(state.security, user if isinstance(user, AuthUser) else None, state.pool)


async def visible_assistants(state: State, authz: Authz) -> list[dict[str, Any]]:
    """The assistants the caller may search, oldest first."""
    scope = await authz("assistants", "search", {"graph_id": None, "metadata": {}, "limit": 1000, "offset": 0})
    async with state.pool.acquire() as conn:
        items, _ = await assistants.search(conn, metadata=None, graph_id=None, name=None, limit=1000, offset=0,
                                           sort_by="created_at", sort_order="asc", scope=scope)
    return [dict(a) for a in items if a["graph_id"] in state.graphs]


def _tools(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool name -> assistant: the assistant's name made a valid tool name, its id appended on a clash."""
    out: dict[str, dict[str, Any]] = {}
    for a in items:
        name = _NAME.sub("_", a.get("name") or a["graph_id"])[:100] or "assistant"
        if name in out:
            name = f"{name}-{str(a['assistant_id'])[:8]}"
        out[name] = a
    return out


async def run_assistant(state: State, authz: Authz, assistant_id: str, arguments: Any) -> tuple[str, Any]:
    """Run an assistant on a temporary thread to its end: (final status, final body as runs.wait has it)."""
    request = await runs_api.authorized_request(state, authz, RunCreate(assistant_id=assistant_id, input=arguments),
                                                None)
    service = runs_api.runs_of(state)
    created = await service.create(request)
    done = await service.wait(uuid.UUID(created["run_id"]))
    return str(done["status"]), codec.to_wire(runs_api.final_body(done))


def build_server(app: Litestar) -> Server[Any]:
    state = app.state

    def caller(ctx: ServerRequestContext[Any, Any]) -> Authz:
        request = ctx.request
        return authz_of(state, request.scope if request is not None else {})

    async def list_tools(ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        tools = _tools(await visible_assistants(state, caller(ctx)))
        return types.ListToolsResult(tools=[
            types.Tool(name=name, description=a.get("description") or f"Run the {a['graph_id']} graph",
                       input_schema=state.graphs[a["graph_id"]].input_jsonschema())
            for name, a in tools.items()
        ])

    async def call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
                        ) -> types.CallToolResult:
        authz = caller(ctx)
        assistant = _tools(await visible_assistants(state, authz)).get(params.name)
        if assistant is None:
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"Unknown tool {params.name!r}")],
                                        is_error=True)
        try:
            status, body = await run_assistant(state, authz, str(assistant["assistant_id"]),
                                               dict(params.arguments or {}))
        except ServiceError as exc:
            return types.CallToolResult(content=[types.TextContent(type="text", text=exc.detail)], is_error=True)
        text = orjson.dumps(body, default=str).decode()
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=body if isinstance(body, dict) else {"result": body},
                                    is_error=status == "error")

    return Server("duragraph", version=getattr(app, "version", "") or "", on_list_tools=list_tools,
                  on_call_tool=call_tool)


@asynccontextmanager
async def mcp_lifespan(app: Litestar) -> AsyncIterator[None]:
    manager = StreamableHTTPSessionManager(build_server(app), json_response=True, stateless=True)
    async with manager.run():
        app.state.mcp = manager
        yield


@asgi("/mcp", is_mount=True, copy_scope=True)
async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    manager: StreamableHTTPSessionManager = scope["litestar_app"].state.mcp
    await manager.handle_request(scope, receive, send)  # type: ignore[arg-type]
