"""Every run's state is reproducible from its events (`duragraph replay`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

from engine.core import codec
from engine.core.saver import lg_of
from engine.durable import blobs
from engine.durable.db import connect
from engine.durable.replay import replay
from tests.integration import graphs as G
from tests.integration.engine_support import engine

GRAPHS = {"fan": G.fanout(), "hitl": G.hitl(), "linear": G.linear(3)}


async def test_replay_matches_for_linear_fanout_and_resumed_runs(database_url: str) -> None:
    async with engine(database_url, GRAPHS, concurrency=4) as e:
        runs = [await e.run("linear", await e.new_thread(), input={"n": 0, "trail": []}),
                await e.run("fan", await e.new_thread(), input={"topics": ["a", "b", "c"]})]
        tid = await e.new_thread()
        runs.append(await e.run("hitl", tid, input={"amount": 1}))
        runs.append(await e.run("hitl", tid, command={"resume": True}))
        conn = await connect(database_url)
        try:
            for run in runs:
                report = await replay(conn, GRAPHS, uuid.UUID(run["run_id"]))
                assert report.ok, report.render()
            assert (await replay(conn, GRAPHS, uuid.UUID(runs[0]["run_id"]))).steps_checked == 3
            # tamper with a stored checkpoint's value of `n`: replay (in a fresh process) notices
            cp = await conn.fetchrow("SELECT thread_id, checkpoint FROM checkpoints WHERE run_id = $1 AND step = 2",
                                     uuid.UUID(runs[0]["run_id"]))
            await conn.execute(
                "UPDATE checkpoint_blobs SET data = $4 WHERE thread_id = $1 AND channel = $2 AND version = $3",
                cp["thread_id"], "n", lg_of(cp["checkpoint"])["channel_versions"]["n"], codec.pack({"value": 42}))
            blobs.CACHE.clear()
            bad = await replay(conn, GRAPHS, uuid.UUID(runs[0]["run_id"]))
            assert not bad.ok and "rebuilt" in bad.render()
        finally:
            await conn.close()


async def test_replay_cli(database_url: str, tmp_path: Path) -> None:
    graphs_file = Path(__file__).with_name("graphs.py")
    (tmp_path / "app.py").write_text(
        f"import sys\nsys.path.insert(0, {str(graphs_file.parents[2])!r})\n"
        "from tests.integration.graphs import linear\ngraph = linear(3)\n")
    (tmp_path / "duragraph.json").write_text(json.dumps({"graphs": {"linear": "./app.py:graph"}}))
    async with engine(database_url, {"linear": G.linear(3)}) as e:
        run = await e.run("linear", await e.new_thread(), input={"n": 0, "trail": []})
    env = {"DATABASE_URL": database_url, "DURAGRAPH_CONFIG": str(tmp_path / "duragraph.json"), "PATH": "/usr/bin"}
    ok = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "duragraph.cli", "replay", run["run_id"]],
                                 env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "state matches what is stored" in ok.stdout
    bad = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "duragraph.cli", "replay", "not-a-run"],
                                  env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("duragraph: error:") and "Traceback" not in bad.stderr
