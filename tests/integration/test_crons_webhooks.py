"""Crons really start runs (exactly once per due time, with several workers) and webhooks are POSTed."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from langgraph_sdk import get_client

from duragraph.services import free_port
from engine.durable.runs import RunRequest
from tests.integration import graphs as G
from tests.integration.api_support import live
from tests.integration.engine_support import engine
from tests.support import eventually

GRAPHS = {"linear": G.linear(2)}


async def test_cron_fires_once_per_due_time_with_two_workers_and_catches_up(database_url: str) -> None:
    async with live(database_url, GRAPHS, workers=2) as (url, e):
        client = get_client(url=url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        cron = await client.crons.create_for_thread(tid, "linear", schedule="0 0 1 1 *",
                                                    input={"n": 0, "trail": []})
        stateless = await client.crons.create("linear", schedule="0 0 1 1 *", input={"n": 10, "trail": []})
        # both became due 10 minutes ago (several missed times): each fires ONE run
        await e.pool.execute("UPDATE crons SET next_run_date = now() - interval '10 minutes'")

        async def runs_of_crons() -> list[Any]:
            return list(await e.pool.fetch("SELECT run_id, status, metadata->>'cron_id' AS cron FROM runs"))

        rows = await eventually(runs_of_crons, what="cron runs")
        await eventually(lambda: _count_done(e.pool), within=20, what="cron runs done")
        rows = await runs_of_crons()
        assert sorted(r["cron"] for r in rows) == sorted([cron["cron_id"], stateless["cron_id"]])
        nexts = await e.pool.fetch("SELECT next_run_date FROM crons")
        assert all(r["next_run_date"] > dt.datetime.now(dt.UTC) for r in nexts)
        state = await client.threads.get_state(tid)
        assert state["values"] == {"n": 2, "trail": ["s0", "s1"]}


async def _count_done(pool: Any) -> bool:
    pending = await pool.fetchval("SELECT count(*) FROM runs WHERE status IN ('pending', 'running')")
    total = await pool.fetchval("SELECT count(*) FROM runs")
    return bool(total >= 2 and pending == 0)


@contextmanager
def webhook_target() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(orjson.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


async def test_webhook_delivered_once_the_run_ends(database_url: str) -> None:
    with webhook_target() as (hook, received):
        async with engine(database_url, GRAPHS) as e:
            run = await e.run("linear", await e.new_thread(), input={"n": 0, "trail": []}, webhook=hook)
            await eventually(lambda: _async(len(received)), what="webhook")
            [body] = received
            assert body["run_id"] == run["run_id"] and body["status"] == "success"
            assert body["values"] == {"n": 2, "trail": ["s0", "s1"]}


async def test_webhook_target_down_is_retried_and_crashes_nothing(database_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    async with engine(database_url, GRAPHS) as e:
        run = await e.runs.create(RunRequest(assistant_id="linear", thread_id=await e.new_thread(),
                                             input={"n": 0, "trail": []}, webhook=dead))
        done = await e.runs.wait(uuid.UUID(run["run_id"]), 20)
        assert done["status"] == "success"

        async def attempts() -> int:
            return int(await e.pool.fetchval("SELECT attempts FROM webhook_deliveries WHERE run_id = $1",
                                             uuid.UUID(run["run_id"])) or 0)

        await eventually(attempts, what="a failed delivery attempt")
        row = await e.pool.fetchrow("SELECT delivered_at, last_error FROM webhook_deliveries")
        assert row["delivered_at"] is None and "ConnectError" in row["last_error"]
        # the engine keeps working
        again = await e.run("linear", await e.new_thread(), input={"n": 0, "trail": []})
        assert again["status"] == "success"


async def _async(value: Any) -> Any:
    return value


async def test_webhook_through_the_sdk(database_url: str) -> None:
    with webhook_target() as (hook, received):
        async with live(database_url, GRAPHS) as (url, _):
            client = get_client(url=url, api_key=None)
            tid = (await client.threads.create())["thread_id"]
            run = await client.runs.create(tid, "linear", input={"n": 0, "trail": []}, webhook=hook)
            await client.runs.join(tid, run["run_id"])
            await eventually(lambda: _async(len(received)), what="webhook")
            assert received[0]["run_id"] == run["run_id"] and received[0]["status"] == "success"
