"""Operating telemetry: /metrics from the API and from real worker and relay processes
(`--metrics-port`), the spans of a run with an interrupt and a resume, JSON logs with their context,
X-Request-ID, and readiness."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from langgraph_sdk import get_client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from duragraph.config import load_graphs, read_config
from duragraph.logs import ContextFilter, json_formatter
from duragraph.services import free_port
from duragraph.settings import Settings
from engine.durable import logcontext, tracing
from engine.durable.jobs import STEP_QUEUE
from tests.integration.api_support import live
from tests.integration.server import serve_api
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).parent / "auth_app" / "duragraph.json"  # its graph: whoami -> ask (interrupt)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= ls)


def json_lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


@pytest.fixture
def processes(database_url: str, nats_url: str, nats_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A worker and a relay as real `duragraph` processes, each serving /metrics on its own port and
    logging JSON lines to `<tmp_path>/<name>.log`."""
    ports = {"worker": free_port(), "relay": free_port()}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "NATS_URL": nats_url,
           "DURAGRAPH_NATS_STREAM": f"{nats_prefix}_EVENTS", "DURAGRAPH_SUBJECT_PREFIX": nats_prefix,
           "DURAGRAPH_REAPER_INTERVAL": "0.5"}
    procs = [subprocess.Popen([sys.executable, "-m", "duragraph.cli", "-v", "--log-format", "json", "--config",
                               str(CONFIG), name, "--metrics-port", str(port)], env=env, cwd=ROOT,
                              stderr=(tmp_path / f"{name}.log").open("wb"))
             for name, port in ports.items()]
    try:
        yield {**{name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()},
               **{f"{name}_log": str(tmp_path / f"{name}.log") for name in ports}}
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_metrics_from_api_worker_and_relay(database_url: str, nats_url: str, nats_prefix: str,
                                                 processes: dict[str, str]) -> None:
    graphs = load_graphs(read_config(CONFIG))
    settings = Settings(database_url=database_url, nats_url=nats_url, nats_stream=f"{nats_prefix}_EVENTS",
                        subject_prefix=nats_prefix)
    with serve_api(database_url, graphs, settings=settings) as url:
        client = get_client(url=url, api_key=None)
        async with httpx.AsyncClient() as http:  # the API's counters live in this test process: take deltas
            before = samples((await http.get(f"{url}/metrics")).text)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        assert "__interrupt__" in await client.runs.wait(tid, "agent", input={})
        assert (await client.runs.wait(tid, "agent", command={"resume": "go"}))["answer"] == "go"

        async with httpx.AsyncClient() as http:
            api = samples((await http.get(f"{url}/metrics")).text)
            def delta(name: str, **labels: str) -> float:
                return value(api, name, **labels) - value(before, name, **labels)

            assert delta("duragraph_runs_created_total", graph_id="agent") == 2
            route = "/threads/{thread_id}/runs/wait"  # the route template, not the path
            assert delta("duragraph_http_requests_total", method="POST", path=route, status_code="200") == 2
            assert delta("duragraph_http_request_duration_seconds_count", path=route) == 2
            assert value(api, "duragraph_db_pool_connections", pool="api", state="max") > 0
            # no ids in labels: every label value is bounded (no uuid anywhere)
            assert tid not in (await http.get(f"{url}/metrics")).text

            async def worker_counts() -> dict[Any, float] | None:
                try:
                    m = samples((await http.get(processes["worker"])).text)
                except httpx.TransportError:
                    return None
                done = value(m, "duragraph_runs_finished_total", graph_id="agent", status="success")
                return m if done == 2 else None  # a run stopped at an interrupt ends "success" too

            worker = await eventually(worker_counts, what="worker metrics")
            for node in ("whoami", "ask"):
                assert value(worker, "duragraph_steps_committed_total", graph_id="agent", node=node) >= 1
                assert value(worker, "duragraph_step_duration_seconds_count", graph_id="agent", node=node) >= 1
            assert value(worker, "duragraph_step_queue_wait_seconds_count", graph_id="agent") >= 1
            assert value(worker, "duragraph_step_commit_seconds_count", graph_id="agent") >= 3
            # the queue depth is sampled by status for the step queue
            assert {dict(ls)["status"] for n, ls in worker if n == "duragraph_queue_jobs"
                    and dict(ls)["queue"] == STEP_QUEUE} == {"todo", "doing", "failed"}
            assert value(worker, "duragraph_db_pool_connections", pool="worker", state="size") >= 1

            async def relay_counts() -> dict[Any, float] | None:
                try:
                    m = samples((await http.get(processes["relay"])).text)
                except httpx.TransportError:
                    return None
                return m if value(m, "duragraph_relay_published_total") > 0 else None

            relay = await eventually(relay_counts, what="relay metrics")

            # both processes log JSON lines; the node's own line carries the ids of its step
            for name in ("worker", "relay"):
                lines = json_lines(processes[f"{name}_log"])
                assert lines and all({"time", "level", "logger", "message"} <= set(ln) for ln in lines)
            [ran] = [ln for ln in json_lines(processes["worker_log"]) if ln["message"] == "whoami ran"]
            assert ran["thread_id"] == tid and ran["node"] == "whoami" and ran["run_id"] and ran["task"]
            assert value(relay, "duragraph_relay_publish_lag_seconds_count") > 0
            assert value(relay, "duragraph_relay_active") == 1
            assert ("duragraph_outbox_backlog", frozenset()) in relay


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.set_provider(provider)
    try:
        yield exporter
    finally:
        tracing.set_provider(None)
        provider.shutdown()


async def test_one_trace_per_run_with_interrupt_and_resume(database_url: str,
                                                           spans: InMemorySpanExporter) -> None:
    graphs = load_graphs(read_config(CONFIG))
    async with live(database_url, graphs) as (url, _):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "agent", input={})
        await client.runs.wait(tid, "agent", command={"resume": "yes"})

        def finished() -> list[Any]:
            return [s for s in spans.get_finished_spans() if s.name == "duragraph.step ask"]

        await eventually(lambda: _async(len(finished()) == 2), what="the step spans of both runs")
    got = spans.get_finished_spans()
    runs = [s for s in got if s.name == "duragraph.run"]
    assert len(runs) == 2
    first, second = sorted(runs, key=lambda s: s.start_time)
    assert first.context.trace_id != second.context.trace_id  # one trace per run
    by_trace = {run.context.trace_id: [s for s in got if s.context.trace_id == run.context.trace_id] for run in runs}

    for run in runs:
        trace_spans = by_trace[run.context.trace_id]
        # the request that created the run is the root, the run span its child
        [request] = [s for s in trace_spans if s.parent is None]
        assert request.name.startswith("POST /threads/")
        assert run.parent is not None and run.parent.span_id == request.context.span_id
        steps = [s for s in trace_spans if s.name.startswith("duragraph.step ")]
        assert steps and all(s.parent is not None and s.parent.span_id == run.context.span_id for s in steps)
        for step in steps:
            children = sorted(s.name for s in trace_spans if s.parent is not None
                              and s.parent.span_id == step.context.span_id)
            assert children == ["commit", "node", "queue"]
            assert step.attributes["duragraph.committed"] is True
    first_nodes = sorted(s.attributes["duragraph.node"] for s in by_trace[first.context.trace_id]
                         if s.name.startswith("duragraph.step "))
    assert first_nodes == ["ask", "whoami"]  # `ask` ran up to its interrupt
    [ask] = [s for s in by_trace[first.context.trace_id] if s.name == "duragraph.step ask"]
    assert ask.attributes["duragraph.outcome"] == "interrupted"
    # the resume's run links to the run it resumes
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
    assert [s.attributes["duragraph.node"] for s in by_trace[second.context.trace_id]
            if s.name.startswith("duragraph.step ")] == ["ask"]


async def _async(x: Any) -> Any:
    return x


async def test_request_id_cors_and_readiness(database_url: str, nats_url: str, nats_prefix: str) -> None:
    settings = Settings(database_url=database_url, nats_url=nats_url, nats_stream=f"{nats_prefix}_EVENTS",
                        subject_prefix=nats_prefix, cors_origins=("https://studio.example",), api_keys=("k",))
    with serve_api(database_url, {}, settings=settings) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            # CORS: a browser preflight from an allowed origin passes without credentials
            pre = await http.options("/threads/search", headers={"Origin": "https://studio.example",
                                                                 "Access-Control-Request-Method": "POST",
                                                                 "Access-Control-Request-Headers": "x-api-key"})
            assert pre.status_code in (200, 204)
            assert pre.headers["access-control-allow-origin"] == "https://studio.example"
            other = await http.options("/threads/search", headers={"Origin": "https://evil.example",
                                                                   "Access-Control-Request-Method": "POST"})
            assert "access-control-allow-origin" not in other.headers
            refused = await http.post("/threads", json={}, headers={"X-Request-ID": "req-41"})
            assert refused.status_code == 401 and refused.headers["x-request-id"] == "req-41"
            assert len((await http.get("/no/such/route")).headers["x-request-id"]) == 32
            http.headers["x-api-key"] = "k"
            given = await http.post("/threads", json={}, headers={"X-Request-ID": "req-42"})
            assert given.headers["x-request-id"] == "req-42"
            made = await http.get("/threads/not-a-uuid")
            assert made.status_code == 422 and len(made.headers["x-request-id"]) == 32
            bad = await http.get("/ok", headers={"X-Request-ID": "bad id\twith spaces"})
            assert bad.headers["x-request-id"] != "bad id\twith spaces"

            async def is_ready() -> bool:
                return (await http.get("/ready")).status_code == 200

            await eventually(is_ready, what="ready")
            body = (await http.get("/ready")).json()
            assert body["services"] == {"postgres": "ok", "nats": "ok"}
            assert (await http.get("/ok", params={"check_db": "1"})).json()["services"] == {"postgres": "ok"}


async def test_readiness_fails_while_postgres_or_nats_is_unreachable(database_url: str) -> None:
    # NATS: nothing listens at the configured address
    settings = Settings(database_url=database_url, nats_url=f"nats://127.0.0.1:{free_port()}")
    with serve_api(database_url, {}, settings=settings) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/ready")
            assert r.status_code == 503
            assert r.json()["code"] == "unavailable" and r.json()["services"]["nats"] == "unreachable"
            assert r.json()["services"]["postgres"] == "ok"
            assert (await http.get("/ok")).status_code == 200  # liveness is not readiness

    # Postgres: the API's database stops accepting connections and its sessions are cut
    with serve_api(database_url, {}, settings=Settings(database_url=database_url)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/ready")).status_code == 200
            parts = urlsplit(database_url)
            name = parts.path.lstrip("/")
            admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
            try:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
                r = await http.get("/ready")
                assert r.status_code == 503
                assert r.json()["services"]["postgres"].startswith("unreachable")
                assert (await http.get("/ok", params={"check_db": "1"})).status_code == 503
                assert (await http.get("/ok")).status_code == 200
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                await admin.close()

            async def ready_again() -> bool:
                return (await http.get("/ready")).status_code == 200

            await eventually(ready_again, what="ready after Postgres is back")


def test_json_log_lines_carry_their_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter())
    log = logging.getLogger("duragraph.test.json")
    log.addHandler(handler)
    log.propagate = False
    try:
        with logcontext.bound(run_id="r1", thread_id="t1", task="k1", node="ask", worker=7):
            log.warning("step %s done", "ask")
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "step ask done" and first["level"] == "WARNING"
    assert {k: first[k] for k in ("run_id", "thread_id", "task", "node", "worker")} == {
        "run_id": "r1", "thread_id": "t1", "task": "k1", "node": "ask", "worker": "7"}
    assert "run_id" not in second and second["message"] == "outside"
