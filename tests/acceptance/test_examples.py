"""Every example's client, run against the real processes, so the examples cannot rot.

A test starts `python -m duragraph.cli api`, `worker` and `relay` as subprocesses on its own database
(the `database_url` fixture), with `DURAGRAPH_CONFIG=examples/duragraph.json`, waits for `GET /ok`,
then runs `examples/<name>/client.py --url ...` as a subprocess and checks its exit code and output.
The long-running example's worker is SIGKILLed mid-step and replaced; the run still completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from duragraph.services import free_port
from tests.support import eventually_sync

pytestmark = pytest.mark.acceptance

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CONFIG = EXAMPLES / "duragraph.json"
AGENT_CONFIG = EXAMPLES / "agent" / "langgraph.json"
STALLED_AFTER = 2.0
REAPER_INTERVAL = 0.5


@dataclass
class Stack:
    """api + worker(s) + relay of one test, as separate OS processes; all ended at teardown."""

    env: dict[str, str]
    logs_dir: Path
    port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.logs_dir / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "duragraph.cli", "-v", *args], env=self.env, cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def wait_ready(self) -> None:
        def ok() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}\n{self.logs()}")
            try:
                return httpx.get(f"{self.url}/ok", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        eventually_sync(ok, within=60, interval=0.1, what="GET /ok")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.logs_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def stack(database_url: str, nats_url: str, nats_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(database_url, nats_url, nats_prefix, tmp_path, CONFIG)


@pytest.fixture
def agent_stack(database_url: str, nats_url: str, nats_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    """The LangGraph agent example, served from its own langgraph.json; its weather tool takes 3 s and notes
    each execution in a ledger file."""
    extra = {"AGENT_TOOL_SECONDS": "3", "AGENT_LEDGER": str(tmp_path / "tool-ledger.log"),
             "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}
    yield from _stack(database_url, nats_url, nats_prefix, tmp_path, AGENT_CONFIG, extra)


def _stack(database_url: str, nats_url: str, nats_prefix: str, tmp_path: Path, config: Path,
           extra: dict[str, str] | None = None) -> Iterator[Stack]:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **os.environ,
        **(extra or {}),
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "DURAGRAPH_CONFIG": str(config),
        "DURAGRAPH_NATS_STREAM": nats_prefix.upper(),
        "DURAGRAPH_SUBJECT_PREFIX": nats_prefix,
        "DURAGRAPH_STALLED_AFTER": str(STALLED_AFTER),
        "DURAGRAPH_REAPER_INTERVAL": str(REAPER_INTERVAL),
        "PYTHONUNBUFFERED": "1",
    }
    s = Stack(env=env, logs_dir=logs, port=free_port())
    s.env["PORT"] = str(s.port)
    try:
        s.start("api", "api")
        s.start("worker", "worker", "--concurrency", "4")
        s.start("relay", "relay")
        s.wait_ready()
        yield s
    finally:
        s.stop_all()


def client_cmd(example: str, url: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / example / "client.py"), "--url", url, *args]


def run_client(example: str, url: str, *args: str, timeout: float = 60, stack: Stack | None = None) -> str:
    """Run an example's client to completion; it must exit 0. Returns its stdout."""
    res = subprocess.run(client_cmd(example, url, *args), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert res.returncode == 0, (
        f"{example} client exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}\n"
        + (stack.logs() if stack else "")
    )
    return res.stdout


def test_approval_client_revises_then_approves(stack: Stack) -> None:
    out = run_client("approval", stack.url, stack=stack)
    assert "-- waiting for review (revision 0)" in out
    assert "-- waiting for review (revision 1)" in out
    assert "published: Durable execution in one page: draft 2, reworked after feedback" in out
    assert ("log: drafted -> review 0: revise -> revised (add a concrete example) -> review 1: approve -> published"
            in out)
    assert out.rstrip().endswith(": idle")


def test_approval_client_stops_at_review_and_resumes_later(stack: Stack) -> None:
    out = run_client("approval", stack.url, "--stop-at-review", stack=stack)
    assert "is waiting for a review; resume it with --thread" in out
    thread_id = out.rsplit("--thread ", 1)[1].strip()
    out = run_client("approval", stack.url, "--thread", thread_id, stack=stack)
    assert f"thread {thread_id}: resuming" in out
    assert "published:" in out


def test_research_client_with_runs_wait(stack: Stack) -> None:
    out = run_client("research", stack.url, "--wait", stack=stack)
    assert "4 findings merged by the reducer; report:" in out
    for topic in ("history", "guarantees", "failure modes", "operations"):
        assert f"- {topic}: " in out


def test_research_client_streams_updates(stack: Stack) -> None:
    # TRANSITIONAL: skipped (visibly, in -ra) only while the SSE routes are not in the app yet
    paths = httpx.get(f"{stack.url}/openapi.json", timeout=10).json().get("paths", {})
    if "/threads/{thread_id}/runs/stream" not in paths:
        pytest.skip("POST /threads/{thread_id}/runs/stream is not served yet")
    out = run_client("research", stack.url, stack=stack)
    assert "streaming updates" in out
    assert "update  plan: 4 subtopics: history, guarantees, failure modes, operations" in out
    assert out.count("update  research: ") == 4
    assert "update  write_report: done" in out
    assert out.index("update  plan:") < out.index("update  research:") < out.index("update  write_report:")
    assert "4 findings merged by the reducer; report:" in out


def _attempts(ledger: Path) -> list[tuple[int, int, str]]:
    path = ledger / "attempts.log"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        step, pid, key = line.split("\t")
        rows.append((int(step), int(pid), key))
    return rows


def test_long_running_client_survives_a_killed_worker(stack: Stack, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    steps = 4
    doomed = stack.procs["worker"]
    client = subprocess.Popen(
        client_cmd("long_running", stack.url, "--steps", str(steps), "--step-seconds", "2",
                   "--ledger-dir", str(ledger), "--poll", "0.2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        # step 2 is in flight in the doomed worker: its request is filed, its commit is seconds away
        eventually_sync(lambda: any(s == 2 and pid == doomed.pid for s, pid, _ in _attempts(ledger))
                        and len(list((ledger / "requests").glob("*.json"))) == 2,
                        within=60, what="step 2 running in the first worker")
        doomed.kill()
        doomed.wait()
        replacement = stack.start("worker2", "worker", "--concurrency", "4")
        out, err = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}\n{stack.logs()}"
    for step in range(1, steps + 1):
        assert f"step {step}/{steps} committed" in out
    [step2] = [line for line in out.splitlines() if f"step 2/{steps} committed" in line]
    assert "(replayed: idempotency key seen before, not filed again)" in step2
    assert "success in" in out and f"{steps} steps, {steps} distinct requests filed" in out

    attempts = _attempts(ledger)
    by_step = {s: [(pid, key) for st, pid, key in attempts if st == s] for s in range(1, steps + 1)}
    # step 2 ran twice (at-least-once), in the killed worker and then in its replacement, with one key
    assert [pid for pid, _ in by_step[2]] == [doomed.pid, replacement.pid]
    assert len({key for _, key in by_step[2]}) == 1
    # committed steps never ran again; later steps ran once, in the replacement
    assert all(len(by_step[s]) == 1 for s in (1, 3, 4))
    assert by_step[1][0][0] == doomed.pid
    assert {by_step[s][0][0] for s in (3, 4)} == {replacement.pid}
    # the external side effect happened once per step
    assert len(list((ledger / "requests").glob("*.json"))) == steps


def test_langgraph_agent_streams_tokens_and_answers_its_interrupt(agent_stack: Stack) -> None:
    out = run_client("agent", agent_stack.url, stack=agent_stack)
    assert "[agent] Let me check the weather first." in out  # token by token, joined back on one line
    assert "-- the agent asks: Book a trip to Lisbon? -> yes" in out
    assert "answer: All set: the forecast for Lisbon is sunny and 24°C. Trip to Lisbon booked." in out
    assert "tools used: lookup_weather, book_trip" in out


def test_langgraph_agent_survives_a_killed_worker(agent_stack: Stack) -> None:
    ledger = Path(agent_stack.env["AGENT_LEDGER"])
    doomed = agent_stack.procs["worker"]
    client = subprocess.Popen(client_cmd("agent", agent_stack.url, "--answer", "no"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        # the weather tool is running in the doomed worker (3 s): kill -9 it mid-step
        eventually_sync(lambda: ledger.exists() and f"\t{doomed.pid}" in ledger.read_text(), within=60,
                        what="the tool running in the first worker")
        doomed.kill()
        doomed.wait()
        replacement = agent_stack.start("worker2", "worker", "--concurrency", "4")
        out, err = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}\n{agent_stack.logs()}"
    assert "answer: All set: the forecast for Lisbon is sunny and 24°C. Not booked (no)." in out
    runs = [line.split("\t")[1] for line in ledger.read_text().splitlines()]
    # the tool step ran again in the replacement (at-least-once); the killed attempt never committed
    assert runs == [str(doomed.pid), str(replacement.pid)]

