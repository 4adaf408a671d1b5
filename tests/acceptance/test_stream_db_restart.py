"""Open SSE streams while PostgreSQL restarts (issue 16): `pg_ctl stop -m immediate`, then start, under
open run streams on a real server (its own embedded PostgreSQL, workers running the runs meanwhile).

On a server whose bound outlasts the outage, every stream keeps its connection, sends heartbeats during
the outage and ends with the run's last frame; what it delivered equals a replay of the run from its
first event (nothing lost, nothing twice). On a server whose bound is shorter than the outage, every
stream ends with an `error` frame, which the SDK surfaces. Neither logs an unhandled exception.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
import pytest
from langgraph_sdk import get_client

from duragraph.services import EmbeddedPostgres
from duragraph.settings import Settings
from engine import END, START, StateGraph
from engine.durable.migrate import migrate
from engine.durable.worker import run_worker
from tests.integration.server import serve_api

pytestmark = pytest.mark.acceptance

NODES = [f"n{i}" for i in range(8)]
STREAMS = 3
OUTAGE_SECONDS = 4.0


class Steps(TypedDict, total=False):
    trail: Annotated[list[str], operator.add]


def _node(name: str) -> Any:
    async def node(state: Steps) -> dict[str, Any]:
        await asyncio.sleep(0.5)
        return {"trail": [name]}

    return node


def _graph() -> Any:
    g = StateGraph(Steps)
    for name in NODES:
        g.add_node(name, _node(name))
    g.add_edge(START, NODES[0])
    for a, b in itertools.pairwise(NODES):
        g.add_edge(a, b)
    g.add_edge(NODES[-1], END)
    return g.compile()


GRAPHS = {"steps": _graph()}


async def _sse(http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> tuple[list[tuple[str, str, Any]], int]:
    """(frames as (event, id, data), heartbeats) of one SSE response, read on ONE connection."""
    frames: list[tuple[str, str, Any]] = []
    heartbeats = 0
    event, data, fid = "", "", ""
    async with http.stream(method, path, **kw) as res:
        assert res.status_code == 200, await res.aread()
        async for line in res.aiter_lines():
            if line.startswith(":"):
                heartbeats += 1
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line.startswith("id: "):
                fid = line[4:]
            elif line == "" and event:
                frames.append((event, fid, data))
                event, data, fid = "", "", ""
    return frames, heartbeats


async def test_streams_ride_out_a_postgres_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    pg = await asyncio.to_thread(EmbeddedPostgres(tmp_path / "postgres", durable=True).start)
    stop = asyncio.Event()
    worker: asyncio.Task[None] | None = None
    try:
        await migrate(pg.dsn)
        worker = asyncio.create_task(run_worker(database_url=pg.dsn, graphs=GRAPHS, concurrency=8, stalled_after=30,
                                                reaper_interval=0.5, stop=stop, install_signal_handlers=False))
        patient = Settings(database_url=pg.dsn, stream_outage_seconds=60.0)
        impatient = Settings(database_url=pg.dsn, stream_outage_seconds=1.0)
        with serve_api(pg.dsn, GRAPHS, settings=patient, state={"stream_heartbeat": 0.5}) as url, \
                serve_api(pg.dsn, GRAPHS, settings=impatient, state={"stream_heartbeat": 0.5}) as short_url:
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                tids = [(await http.post("/threads", json={})).json()["thread_id"] for _ in range(STREAMS + 1)]
                body = {"assistant_id": "steps", "input": {"trail": []}, "stream_mode": ["values", "updates"]}
                patient_streams = [asyncio.create_task(_sse(http, "POST", f"/threads/{t}/runs/stream", json=body))
                                   for t in tids[:STREAMS]]
                sdk = get_client(url=short_url, api_key=None)

                async def sdk_stream() -> list[Any]:
                    return [p async for p in sdk.runs.stream(tids[STREAMS], "steps", input={"trail": []},
                                                             stream_mode="values")]

                impatient_stream = asyncio.create_task(sdk_stream())
                await asyncio.sleep(1.5)  # every run is under way (a few steps done, most to go)
                await asyncio.to_thread(pg.stop, "immediate")
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(pg.start)

                results = await asyncio.wait_for(asyncio.gather(*patient_streams), timeout=120)
                for tid, (frames, heartbeats) in zip(tids, results, strict=False):
                    assert heartbeats >= 2, "heartbeats during the outage"
                    runs = (await http.get(f"/threads/{tid}/runs")).json()
                    assert [r["status"] for r in runs] == ["success"], runs
                    replay, _ = await _sse(http, "GET", f"/threads/{tid}/runs/{runs[0]['run_id']}/stream",
                                           headers={"Last-Event-ID": "0"})
                    assert frames == replay  # gap-free and duplicate-free across the restart
                    updates = [e for e, _, _ in frames if e == "updates"]
                    assert len(updates) == len(NODES)
                    assert frames[-1][0] == "values" and all(n in frames[-1][2] for n in NODES)

                parts = await asyncio.wait_for(impatient_stream, timeout=60)
                assert parts[-1].event == "error", [p.event for p in parts]
                assert parts[-1].data["error"] == "DatabaseUnavailable"
        unhandled = [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]
        assert not unhandled
    finally:
        stop.set()
        if worker is not None:
            await asyncio.gather(worker, return_exceptions=True)
        await asyncio.to_thread(pg.stop)


