"""What a worker reports about one step: metrics (engine.durable.metrics) and its trace spans
(engine.durable.tracing), in one observer so the step loop stays readable."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from engine.core.api import TaskSpec
from engine.durable import metrics, tracing


class StepObserver:
    def __init__(self, graph_id: str, node: str, trace: tracing.StepTrace) -> None:
        self.graph_id, self.node, self.trace = graph_id, node, trace

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            with self.trace.phase("node"):
                yield
        finally:
            metrics.STEP_DURATION.labels(self.graph_id, self.node).observe(time.perf_counter() - started)

    def ran(self, status: str, attempts: int) -> None:
        self.trace.set("duragraph.outcome", status)
        self.trace.set("duragraph.attempts", attempts)
        if attempts > 1:
            metrics.STEPS_RETRIED.labels(self.graph_id, self.node).inc(attempts - 1)
        if status == "error":
            metrics.STEPS_FAILED.labels(self.graph_id, self.node).inc()

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            with self.trace.phase("commit"):
                yield
        finally:
            metrics.STEP_COMMIT.labels(self.graph_id).observe(time.perf_counter() - started)

    def committed(self, committed: bool) -> None:
        self.trace.set("duragraph.committed", committed)
        if committed:
            metrics.STEPS_COMMITTED.labels(self.graph_id, self.node).inc()


@contextlib.contextmanager
def observe_step(run_id: uuid.UUID, graph_id: str, spec: TaskSpec, kwargs: Mapping[str, Any],
                 queue_wait: float) -> Iterator[StepObserver]:
    metrics.STEP_QUEUE_WAIT.labels(graph_id, spec.name).observe(max(queue_wait, 0.0))
    with tracing.step_span(kwargs, run_id=str(run_id), graph_id=graph_id, node=spec.name, step=spec.step,
                           queue_wait=queue_wait) as trace:
        yield StepObserver(graph_id, spec.name, trace)
