"""The API's telemetry: Prometheus `/metrics` (Litestar's Prometheus plugin, route templates as labels),
an `X-Request-ID` on every response (the caller's, or a new one) that log lines carry too, the
open-SSE-streams gauge, and OpenTelemetry request spans when a tracer provider is configured."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Gauge

from engine.durable import logcontext, tracing

SSE_STREAMS_OPEN = Gauge("duragraph_sse_streams_open", "SSE streams being served", ["kind"])
_STATE_KEY = "duragraph_request_id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
_NOT_MEASURED = ["^/metrics$", "^/ok$", "^/ready$"]


def prometheus_config() -> PrometheusConfig:
    """HTTP request counters / durations by method, route template and status (`duragraph_http_*`);
    unknown paths are left out, so a scanner cannot blow up the label set."""
    return PrometheusConfig(app_name="duragraph", prefix="duragraph_http", group_path=True,
                            exclude_unhandled_paths=True, exclude=_NOT_MEASURED)


class MetricsController(PrometheusController):
    """`GET /metrics`: the process registry in the Prometheus text format (open, like /ok)."""

    path = "/metrics"
    include_in_schema = False
    opt = {"exclude_from_auth": True}


async def count_open(gen: AsyncIterator[bytes], kind: str) -> AsyncIterator[bytes]:
    """`gen`, counted in duragraph_sse_streams_open while it is being served."""
    gauge = SSE_STREAMS_OPEN.labels(kind)
    gauge.inc()
    try:
        async for chunk in gen:
            yield chunk
    finally:
        gauge.dec()


def request_id(scope: Scope) -> str:
    """This request's id: a well-formed `X-Request-ID` it sent, else a new one (kept on the scope)."""
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    rid: str | None = state.get(_STATE_KEY)
    if rid is None:
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state[_STATE_KEY] = rid
    return rid


class RequestIdMiddleware:
    """Binds the request id to the log lines of the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            logcontext.set_request_id(request_id(scope))
        await self.app(scope, receive, send)


def request_id_middleware() -> DefineMiddleware:
    return DefineMiddleware(RequestIdMiddleware)


async def echo_request_id(message: Message, scope: Scope) -> None:
    """`before_send` hook: every response (errors and unknown routes included) carries X-Request-ID."""
    if message["type"] == "http.response.start" and scope["type"] == ScopeType.HTTP:
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
        headers.append((b"x-request-id", request_id(scope).encode()))
        message["headers"] = headers  # type: ignore[typeddict-unknown-key]


def otel_plugin() -> Any:
    """Litestar's OpenTelemetry plugin (a server span per request) when tracing is set up, else None."""
    if not tracing.enabled():
        return None
    try:
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
    except ImportError:  # pragma: no cover - opentelemetry-instrumentation-asgi missing
        return None
    return OpenTelemetryPlugin(OpenTelemetryConfig(exclude=_NOT_MEASURED, exclude_spans=["receive", "send"],
                                                   tracer_provider=tracing.provider()))
