"""benchmarks/bad_inputs.py against a live server: 128+ bad inputs, no 5xx, each a 4xx with detail/code."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.durable.worker import run_worker
from tests.integration import graphs as G
from tests.integration.server import serve_api

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bad_inputs

GRAPHS = {"linear": G.linear(2)}


async def test_bad_input_replay_has_no_server_errors(database_url: str) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(database_url=database_url, graphs=GRAPHS,  # type: ignore[arg-type]
                                            reaper_interval=0.5, stop=stop, install_signal_handlers=False))
    try:
        with serve_api(database_url, GRAPHS) as url:
            total, server_errors, other = await asyncio.to_thread(bad_inputs.replay, url)
    finally:
        stop.set()
        await worker
    assert total >= 128
    assert server_errors == []
    assert other == []
