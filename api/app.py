"""The Litestar application: routers, the Postgres pool, system assistants, errors and OpenAPI.

Routers are listed in ONE place (`default_routers`). A handler gets the database through dependency
injection: declare a parameter `conn: asyncpg.Connection` (one pooled connection for the request),
`pool: asyncpg.Pool` (e.g. for a long SSE stream), `graphs: Mapping[str, object]` or `settings: Settings`.
Anything else on `app.state` is reachable as `request.app.state`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.serialization import default_serializer
from litestar.types import ControllerRouterHandler, Serializer

from api import docs
from api.auth import Authz, Security, provide_authz
from api.errors import exception_handlers
from api.guard import request_guard
from api.idempotency import provide_idempotency_key
from api.retry import retry_transient
from api.stream_slots import StreamSlots
from api.telemetry import (
    MetricsController,
    echo_request_id,
    otel_plugin,
    prometheus_config,
    request_id_middleware,
)
from duragraph.settings import Settings
from engine.core.compiled import as_compiled
from engine.durable import assistants, metrics
from engine.durable.db import create_pool

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]

# handler parameter types for the dependencies below (`conn: Conn`, `graphs: Graphs`...)
Conn = NamedDependency[asyncpg.Connection]
Pool = NamedDependency[asyncpg.Pool]
Graphs = NamedDependency[Mapping[str, object]]
SettingsDep = NamedDependency[Settings]
AuthzDep = NamedDependency[Authz]

try:
    VERSION = version("duragraph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0.0.0"


def default_routers() -> list[ControllerRouterHandler]:
    """Every router of the API. New routers (runs, state, streams) are added here."""
    from api import assistants as assistants_api
    from api import crons, dashboard, runs, state, store, stream, system, threads
    from api.protocol import routes as protocol

    return [
        system.router,
        assistants_api.router,
        threads.router,
        state.router,
        runs.router,
        store.router,
        crons.router,
        stream.router,
        dashboard.router,
        protocol.router,
    ]


def agent_routers(settings: Settings) -> list[ControllerRouterHandler]:
    """/mcp and /a2a, unless the config's `"http": {"disable_mcp" / "disable_a2a": true}` leaves them out."""
    out: list[ControllerRouterHandler] = []
    if not settings.disable_mcp:
        from api.mcp import mcp_endpoint

        out.append(mcp_endpoint)
    if not settings.disable_a2a:
        from api import a2a

        out.append(a2a.router)
    return out


def iso_datetimes(value: Any) -> Any:
    """Datetimes as `2026-11-24T00:47:20.584445+00:00` (msgspec alone would write `...Z`)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: iso_datetimes(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [iso_datetimes(v) for v in value]
    return value


class ApiResponse(Response[Any]):
    """The response class of every route: JSON with LangGraph Platform's timestamp format. Routers
    that build a response themselves (headers, status) use this class too."""

    def render(self, content: Any, media_type: str, enc_hook: Serializer = default_serializer) -> bytes:
        return super().render(iso_datetimes(content), media_type, enc_hook)


async def provide_pool(state: State) -> asyncpg.Pool:
    return state.pool


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    async with state.pool.acquire() as conn:
        yield conn


async def provide_graphs(state: State) -> Mapping[str, object]:
    graphs: Mapping[str, object] = state.graphs
    return graphs


async def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def cors_config(origins: Sequence[str]) -> CORSConfig | None:
    """CORS for the given browser origins (`*` for any; none: no CORS headers). The SSE and pagination
    headers a LangGraph client reads are exposed."""
    if not origins:
        return None
    return CORSConfig(allow_origins=list(origins), allow_methods=["*"], allow_headers=["*"],
                      allow_credentials="*" not in origins,
                      expose_headers=["Content-Location", "Location", "X-Pagination-Total", "X-Pagination-Next",
                                      "X-Request-ID"])


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()


def create_app(
    *,
    database_url: str,
    graphs: Mapping[str, object],
    settings: Settings | None = None,
    routers: Sequence[ControllerRouterHandler] | None = None,
    extra_routers: Sequence[ControllerRouterHandler] = (),
    lifespans: Sequence[Lifespan] = (),
    state: Mapping[str, Any] | None = None,
    pool_min_size: int = 1,
    pool_max_size: int = 10,
    debug: bool = False,
    security: Security | None = None,
) -> Litestar:
    """The API app. `graphs` maps graph id -> compiled graph; `routers` replaces `default_routers()`,
    `extra_routers` adds to them; `lifespans` run inside the pool's lifespan (the pool is on
    `app.state.pool` by then); `state` adds entries to `app.state`. `security` is how callers are
    authenticated (default: the settings' API keys, else open)."""
    graphs = {name: as_compiled(g, name) for name, g in graphs.items()}  # LangGraph graphs as the engine holds them
    graph_ids = sorted(graphs)
    settings = settings or Settings(database_url=database_url)
    security = security or Security(api_keys=frozenset(settings.api_keys))
    auth_middleware = security.middleware()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        security.warn_if_open()
        pool = await create_pool(database_url, min_size=pool_min_size, max_size=pool_max_size)
        try:
            app.state.pool = pool
            metrics.watch_pool(pool, "api")
            async with pool.acquire() as conn:
                await assistants.ensure_system_assistants(conn, graph_ids)
            async with AsyncExitStack() as stack:
                from api.housekeeping import timeout_lifespan
                from api.live import live_lifespan
                from api.runs import engine_lifespan

                await stack.enter_async_context(engine_lifespan(app))
                await stack.enter_async_context(timeout_lifespan(app))
                await stack.enter_async_context(live_lifespan(app))
                if routers is None and not settings.disable_mcp:
                    from api.mcp import mcp_lifespan

                    await stack.enter_async_context(mcp_lifespan(app))
                for extra in lifespans:
                    await stack.enter_async_context(extra(app))
                yield
        finally:
            await pool.close()

    return Litestar(
        route_handlers=[openapi_json, MetricsController, docs.assets_router(),
                        *(default_routers() + agent_routers(settings) if routers is None else routers),
                        *extra_routers],
        lifespan=[lifespan],
        state=State({"graphs": dict(graphs), "settings": settings, "security": security,
                     "stream_slots": StreamSlots(settings.limits.streams_per_client, settings.limits.streams_total),
                     **(state or {})}),
        dependencies={
            "pool": Provide(provide_pool),
            "conn": Provide(provide_conn),
            "graphs": Provide(provide_graphs),
            "settings": Provide(provide_settings),
            "authz": Provide(provide_authz),
            "idempotency_key": Provide(provide_idempotency_key),
        },
        # outermost first: every response carries its request id, refused ones are counted too
        middleware=[request_id_middleware(), prometheus_config().middleware,
                    *([auth_middleware] if auth_middleware is not None else []),
                    request_guard(settings.limits),  # body size, deadline, nesting, page size: before any route
                    retry_transient],  # innermost: a retried route is one request to everything above
        plugins=[plugin] if (plugin := otel_plugin()) is not None else [],
        before_send=[echo_request_id],
        cors_config=cors_config(settings.cors_origins),
        exception_handlers=exception_handlers(),
        response_class=ApiResponse,
        openapi_config=OpenAPIConfig(
            title="DuraGraph", version=VERSION, path="/docs", render_plugins=[docs.swagger_plugin()],
            description="Durable execution for LangGraph-style graphs, compatible with LangGraph Platform clients.",
        ),
        request_max_body_size=None,  # api/guard.py caps bodies per route family
        debug=debug,
        logging_config=None,  # the process (CLI or test) configures logging, not the app
    )
