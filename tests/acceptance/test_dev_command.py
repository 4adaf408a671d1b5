"""`duragraph dev`: one command, embedded PostgreSQL + NATS, state kept across restarts, clean stop.

Run as a subprocess with no DATABASE_URL / NATS_URL (so it starts the embedded servers) and
DURAGRAPH_DATA_DIR pointing at a temporary directory. And the config errors: one line on stderr,
exit code 2, no traceback, nothing started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from duragraph.services import free_port
from tests.support import eventually_sync

pytestmark = pytest.mark.acceptance

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "duragraph.json"
APPROVAL_CLIENT = REPO / "examples" / "approval" / "client.py"
STOP_WITHIN = 20.0


def dev_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", "DURAGRAPH_CONFIG")}
    env.update(DURAGRAPH_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


def processes_using(data_dir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of live processes whose command line names `data_dir` (postgres -D ...,
    nats-server -sd ...)."""
    needle = str(data_dir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:
            continue
        if needle in cmdline and "zombie" not in state:
            found.append((int(entry.name), cmdline.strip()))
    return found


class Dev:
    """One `duragraph dev` process; output in a file."""

    def __init__(self, data_dir: Path, log: Path, config: Path = CONFIG, *args: str, cwd: Path = REPO) -> None:
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "duragraph.cli", "dev", "--config", str(config), "--port", str(self.port),
                 *args],
                env=dev_env(data_dir), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"duragraph dev exited with {self.proc.returncode}:\n{self.output()}")
            if "Press Ctrl-C to stop." not in self.output():
                return False
            try:
                return httpx.get(f"{self.url}/ok", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        eventually_sync(ready, within=120, interval=0.1, what="duragraph dev serving /ok")

    def interrupt(self) -> int:
        """Ctrl-C; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"duragraph dev did not stop within {STOP_WITHIN}s:\n{self.output()}") from None

    def kill(self) -> None:
        """Teardown after a failure: the process, then whatever it left running on our data dir."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_WITHIN)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid, _ in processes_using(self.data_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    yield d
    for pid, _ in processes_using(d):  # never leave servers behind, even when a test failed
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def approval_client(url: str, *args: str) -> str:
    res = subprocess.run([sys.executable, str(APPROVAL_CLIENT), "--url", url, *args],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert res.returncode == 0, f"approval client exited {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.mark.timeout(360)
def test_dev_serves_stops_cleanly_and_keeps_an_interrupted_run_across_restarts(data_dir: Path, tmp_path: Path) -> None:
    dev = Dev(data_dir, tmp_path / "dev1.log")
    try:
        dev.wait_ready()
        banner = dev.output()
        assert f"API:   {dev.url}" in banner
        assert f"UI:    {dev.url}/ui" in banner
        assert f"Docs:  {dev.url}/docs" in banner
        assert f"Data:  {data_dir.resolve()}" in banner
        assert "Graphs: approval, long_running, research" in banner
        assert httpx.get(f"{dev.url}/docs", timeout=10).status_code == 200
        assert "<title>DuraGraph</title>" in httpx.get(f"{dev.url}/ui", timeout=10).text
        servers = " | ".join(cmd for _, cmd in processes_using(data_dir))
        assert "nats-server" in servers and "postgres" in servers, servers  # what must be gone after Ctrl-C

        out = approval_client(dev.url, "--stop-at-review")
        assert "-- waiting for review (revision 0)" in out
        thread_id = out.rsplit("--thread ", 1)[1].strip()

        assert dev.interrupt() == 0, dev.output()
        assert dev.output().rstrip().endswith("stopped")
        assert "Traceback" not in dev.output()
        eventually_sync(lambda: not processes_using(data_dir), within=20,
                        what="no postgres / nats-server left running on the data dir")
    finally:
        dev.kill()

    dev = Dev(data_dir, tmp_path / "dev2.log")
    try:
        dev.wait_ready()
        thread = httpx.get(f"{dev.url}/threads/{thread_id}", timeout=10).json()
        assert thread["status"] == "interrupted", thread
        out = approval_client(dev.url, "--thread", thread_id)
        assert f"thread {thread_id}: resuming" in out
        assert "published: " in out and out.rstrip().endswith(": idle")
        assert dev.interrupt() == 0, dev.output()
        eventually_sync(lambda: not processes_using(data_dir), within=5, what="no servers left after the restart")
    finally:
        dev.kill()


GRAPH_NOT_A_GRAPH = "graph = 42\n"


@pytest.mark.parametrize(
    ("config", "files", "message"),
    [
        (None, {}, "config file not found"),
        ("{not json", {}, "not valid JSON"),
        ('{"graphs": {"g": "./missing.py:graph"}}', {}, "graph file not found"),
        ('{"graphs": {"g": "./g.py:graph"}}', {"g.py": GRAPH_NOT_A_GRAPH}, "is a int; expected a langgraph StateGraph"),
        ('{"graphs": {"g": "./g.py:nope"}}', {"g.py": GRAPH_NOT_A_GRAPH}, "has no attribute 'nope'"),
        ('{"graphs": {"g": "./g.py:graph"}}', {"g.py": "import nonexistent_module_xyz\n"}, "error importing"),
        ('{"graphs": {"g": "no_colon"}}', {}, "expected"),
        ('["a list"]', {}, "expected a JSON object"),
    ],
    ids=["missing-file", "invalid-json", "bad-path", "not-a-graph", "missing-attr", "import-error", "bad-spec",
         "not-an-object"],
)
def test_config_errors_are_one_line_and_exit_2(
    tmp_path: Path, config: str | None, files: dict[str, str], message: str
) -> None:
    path = tmp_path / "duragraph.json"
    if config is not None:
        path.write_text(config)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    data_dir = tmp_path / "data"
    res = subprocess.run([sys.executable, "-m", "duragraph.cli", "dev", "--config", str(path)],
                         env=dev_env(data_dir), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("duragraph: error: "), res.stderr
    assert message in lines[0]
    assert not data_dir.exists(), "nothing is started for a bad config"
