"""OpenTelemetry traces of runs (the `otel` extra; without it, or without a configured tracer
provider, every function here is a no-op).

One trace per run: the API request that creates a run opens a `duragraph.run` span under its own
request span (and linked to the previous run of the thread, so a resume points at the run it resumes);
that span's W3C `traceparent` is stored with the run (kwargs["otel"]). Each step is a `duragraph.step`
span under it, started when the step was enqueued, with `queue`, `node` and `commit` children; workers
join the trace from the stored context.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

try:
    from opentelemetry import propagate, trace
except ImportError:  # pragma: no cover - the otel extra is not installed
    propagate = trace = None  # type: ignore[assignment]

TRACER = "duragraph"
_provider: Any = None  # set_provider(): a provider of this process's own (tests), instead of the global one


def set_provider(provider: Any) -> None:
    """Trace with `provider` instead of OpenTelemetry's global one (None: back to the global)."""
    global _provider
    _provider = provider


def provider() -> Any:
    """The tracer provider in use, None when tracing is off."""
    if trace is None:
        return None
    current = _provider or trace.get_tracer_provider()
    return None if isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider) else current


def enabled() -> bool:
    """A tracer provider is configured (the SDK's, set by the process or a test)."""
    return provider() is not None


def _tracer() -> Any:
    return provider().get_tracer(TRACER)


def _span_context(carrier: Mapping[str, Any] | None) -> Any:
    if not carrier:
        return None
    ctx = trace.get_current_span(propagate.extract(dict(carrier))).get_span_context()
    return ctx if ctx.is_valid else None


def run_context(*, run_id: str, thread_id: str, graph_id: str, resumes: Sequence[Mapping[str, Any]] = ()
                ) -> dict[str, str] | None:
    """Open (and close) the run's span under the current context (the creating request); its
    propagation headers, to store with the run. `resumes`: contexts of runs this one continues."""
    if not enabled():
        return None
    links = [trace.Link(sc) for sc in (_span_context(c) for c in resumes) if sc is not None]
    tracer = _tracer()
    attrs = {"duragraph.run_id": run_id, "duragraph.thread_id": thread_id, "duragraph.graph_id": graph_id}
    with tracer.start_as_current_span("duragraph.run", links=links, attributes=attrs):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    return carrier


class StepTrace:
    """The spans of one step; `phase(name)` opens a child span (node, commit)."""

    def __init__(self, span: Any) -> None:
        self.span = span

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self.span is None:
            yield
            return
        tracer = _tracer()
        with tracer.start_as_current_span(name, context=trace.set_span_in_context(self.span)):
            yield

    def set(self, key: str, value: Any) -> None:
        if self.span is not None:
            self.span.set_attribute(key, value)


@contextlib.contextmanager
def step_span(kwargs: Mapping[str, Any], *, run_id: str, graph_id: str, node: str, step: int,
              queue_wait: float) -> Iterator[StepTrace]:
    """The step's span in its run's trace (nothing when the run has no stored context)."""
    parent = _span_context(kwargs.get("otel")) if enabled() else None
    if parent is None:
        yield StepTrace(None)
        return
    tracer = _tracer()
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    now = time.time_ns()
    enqueued = now - int(max(queue_wait, 0.0) * 1e9)
    attrs: dict[str, str | int] = {"duragraph.run_id": run_id, "duragraph.graph_id": graph_id, "duragraph.node": node,
             "duragraph.step": step}
    with tracer.start_as_current_span(f"duragraph.step {node}", context=ctx, start_time=enqueued,
                                      attributes=attrs) as span:
        queued = tracer.start_span("queue", context=trace.set_span_in_context(span), start_time=enqueued)
        queued.end(end_time=now)
        yield StepTrace(span)
