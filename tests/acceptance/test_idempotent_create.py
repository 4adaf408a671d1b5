"""A run creation whose response is lost (issue 16): the API process dies right after the run committed
(the test-only fault point `after_run_commit`, api/faults.py), the client retries with the same
`Idempotency-Key` once a new API process is up, and gets the same run; the graph's first node runs and
commits once. Real processes: `python -m duragraph.cli api` and `worker`, on this test's database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from langgraph_sdk import get_client

from duragraph.services import free_port
from tests.acceptance import crash_graphs
from tests.acceptance.crash_graphs import starts
from tests.support import eventually, eventually_sync

pytestmark = pytest.mark.acceptance
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Procs:
    env: dict[str, str]
    logs_dir: Path
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        with open(self.logs_dir / f"{name}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "duragraph.cli", "-v", *args],
                                    env={**self.env, **extra_env}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_api(self, **extra_env: str) -> subprocess.Popen[bytes]:
        proc = self.start("api", "api", **extra_env)

        def ok() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"api exited with {proc.returncode}\n{self.logs()}")
            try:
                return httpx.get(f"{self.url}/ok", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        eventually_sync(ok, within=60, interval=0.1, what="GET /ok")
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.logs_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def procs(database_url: str, tmp_path: Path) -> Iterator[Procs]:
    config = tmp_path / "duragraph.json"
    config.write_bytes(orjson.dumps({"graphs": {"chain": f"{Path(crash_graphs.__file__).resolve()}:chain"}}))
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url, "DURAGRAPH_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
    for name in ("NATS_URL", "DURAGRAPH_TEST_FAULT"):
        env.pop(name, None)
    p = Procs(env=env, logs_dir=logs, port=free_port())
    p.env["PORT"] = str(p.port)
    try:
        yield p
    finally:
        p.stop_all()


async def test_retry_after_the_api_died_between_commit_and_response(
    procs: Procs, database_url: str, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    procs.start("worker", "worker", "--concurrency", "2")
    doomed = procs.start_api(DURAGRAPH_TEST_FAULT="after_run_commit")
    client = get_client(url=procs.url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    payload = {"marker_dir": str(markers), "key": "k", "rerun_sleep": 0.0}
    headers = {"Idempotency-Key": str(uuid.uuid4())}

    with pytest.raises(httpx.TransportError):  # the process died before answering
        await client.runs.create(tid, "chain", input=payload, headers=headers)
    assert doomed.wait(15) == -signal.SIGKILL

    conn = await asyncpg.connect(database_url)
    try:
        committed = await conn.fetch("SELECT run_id FROM runs WHERE thread_id = $1", uuid.UUID(tid))
        assert len(committed) == 1  # the run did commit before the process died
        # the worker goes on with it while no API is up: the first node commits before the retry
        await eventually(lambda: conn.fetchval("SELECT count(*) FROM tasks WHERE thread_id = $1 AND name = 'first' "
                                               "AND status = 'success'", uuid.UUID(tid)),
                         within=60, what="the first node committed")

        procs.start_api()
        client = get_client(url=procs.url, api_key=None)
        again = await client.runs.create(tid, "chain", input=payload, headers=headers)
        assert again["run_id"] == str(committed[0]["run_id"])
        await client.runs.join(tid, again["run_id"])
        runs = await client.runs.list(tid)
        assert [r["run_id"] for r in runs] == [again["run_id"]] and runs[0]["status"] == "success"
        state = await client.threads.get_state(tid)
        assert state["values"]["trail"] == ["first", "victim", "last"]
        firsts = await conn.fetchval("SELECT count(*) FROM tasks WHERE thread_id = $1 AND name = 'first' "
                                     "AND status = 'success'", uuid.UUID(tid))
        assert firsts == 1
        assert Counter(node for key, node, _, _ in starts(markers) if key == "k")["first"] == 1
    finally:
        await conn.close()
