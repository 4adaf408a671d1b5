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


class RequestIdMiddleware:
    """Take a well-formed `X-Request-ID` from the request or make one; echo it on the response and
    bind it to the request's log lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        logcontext.set_request_id(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}  # type: ignore[typeddict-item]
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_middleware() -> DefineMiddleware:
    return DefineMiddleware(RequestIdMiddleware)


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
