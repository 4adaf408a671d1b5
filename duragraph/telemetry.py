"""Process-level telemetry set-up for the commands: OpenTelemetry tracing (when the `otel` extra is
installed and OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the standard
OTEL_* variables configure the exporter and service name) and the Prometheus HTTP server of processes
that serve no HTTP themselves (worker, relay: `--metrics-port`)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

log = logging.getLogger("duragraph.telemetry")


def configure_tracing(service: str) -> bool:
    """Install an SDK tracer provider exporting over OTLP/HTTP; False when not asked for or unavailable."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed "
                    "(pip install 'duragraph[otel]'): no traces")
        return False
    name = os.environ.get("OTEL_SERVICE_NAME", f"duragraph-{service}")
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def shutdown_tracing() -> None:
    """Flush what is buffered (a BatchSpanProcessor exports in the background)."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


@contextlib.contextmanager
def metrics_server(port: int | None, host: str) -> Iterator[None]:
    """Serve the process's Prometheus registry on host:port (`GET /metrics`) for the block."""
    if port is None:
        yield
        return
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host)
    log.info("metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
