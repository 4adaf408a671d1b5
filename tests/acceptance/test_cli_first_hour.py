"""The first hour's mistakes, each one line `duragraph: error: ...` and a non-zero exit (the real command as
a subprocess): a second `duragraph dev` on a data directory another one owns, a port in use or out of
range, broken graph code (with the user's file and line), a config that is a folder or missing, an
unreachable or malformed DATABASE_URL, the example clients on an unknown thread or without their extra.
And what a working `duragraph dev` shows and answers: the database and NATS addresses, CORS for LangGraph
Studio, a `duragraph api` pointed at its database printing where it listens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from duragraph.services import free_port
from tests.acceptance.test_dev_command import CONFIG, REPO, Dev, dev_env, processes_using
from tests.support import eventually_sync

pytestmark = pytest.mark.acceptance

STUDIO = "https://smith.langchain.com"


def duragraph(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "duragraph.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("duragraph: error: "), res.stderr
    return lines[0]


@pytest.mark.timeout(300)
def test_dev_owns_its_data_dir_and_port_and_serves_studio(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dev = Dev(data_dir, tmp_path / "dev.log")
    api: subprocess.Popen[bytes] | None = None
    try:
        dev.wait_ready()
        banner = dev.output()
        database = next(line.split(": ", 1)[1] for line in banner.splitlines() if line.startswith("  Database: "))
        assert database.startswith("postgresql://") and "  NATS:  nats://127.0.0.1:" in banner, banner
        servers = sorted(processes_using(data_dir))
        assert servers

        # a second dev on the same data directory: one line, exit 2, the first untouched
        second = duragraph("dev", "--config", str(CONFIG), "--port", str(free_port()), env=dev_env(data_dir))
        assert "another `duragraph dev`" in one_line_error(second) and str(data_dir) in second.stderr
        assert sorted(processes_using(data_dir)) == servers
        assert httpx.post(f"{dev.url}/threads/search", json={}, timeout=10).status_code == 200

        # the port taken: one line before any banner, nothing started
        other = tmp_path / "other"
        taken = duragraph("dev", "--config", str(CONFIG), "--port", str(dev.port), env=dev_env(other))
        assert f"cannot listen on 127.0.0.1:{dev.port}" in one_line_error(taken)
        assert "DuraGraph is running" not in taken.stdout and not processes_using(other)

        # LangGraph Studio's origin gets CORS answers by default (and the banner links Studio to this server)
        assert f"  Studio: https://smith.langchain.com/studio/?baseUrl={dev.url}" in banner
        pre = httpx.options(f"{dev.url}/threads/search", timeout=10, headers={
            "Origin": STUDIO, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code in (200, 204) and pre.headers["access-control-allow-origin"] == STUDIO
        assert "access-control-allow-origin" not in httpx.get(
            f"{dev.url}/ok", headers={"Origin": "https://evil.example"}, timeout=10).headers

        # `duragraph api` on dev's database (its address is in the banner): a start line, then it serves
        port = free_port()
        env = {**dev_env(data_dir), "DATABASE_URL": database, "PORT": str(port)}
        log = tmp_path / "api.log"
        with open(log, "wb") as out:
            api = subprocess.Popen([sys.executable, "-m", "duragraph.cli", "api", "--config", str(CONFIG)], env=env,
                                   cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        eventually_sync(lambda: f"DuraGraph API listening on http://127.0.0.1:{port}" in log.read_text(),
                        within=60, what="duragraph api's start line")
        assert httpx.get(f"http://127.0.0.1:{port}/ok", timeout=10).status_code == 200
        api.send_signal(signal.SIGINT)
        assert api.wait(30) == 0, log.read_text()

        # an example client on a thread that does not exist: one line, non-zero
        res = subprocess.run([sys.executable, str(REPO / "examples" / "approval" / "client.py"), "--url", dev.url,
                              "--thread", "00000000-0000-4000-8000-000000000000"],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.strip().startswith("duragraph: error: GET /threads/") and "404" in res.stderr

        assert dev.interrupt() == 0, dev.output()
    finally:
        if api is not None and api.poll() is None:
            api.kill()
        dev.kill()


EDGE_TO_MISSING_NODE = """\
from engine import StateGraph, START, END

builder = StateGraph(dict)
builder.add_node("a", lambda state: {})
builder.add_edge(START, "a")
builder.add_edge("a", "nowhere")
graph = builder.compile()
"""

RAISES_AT_IMPORT = """\
def settings():
    return {"model": MODEL_NAME}

SETTINGS = settings()
"""


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        ({}, ["dev", "--port", "99999"], ["99999 is not a port"]),
        ({"g.py": EDGE_TO_MISSING_NODE}, ["dev"], ["nowhere", "g.py:7"]),
        ({"g.py": RAISES_AT_IMPORT}, ["dev"], ["NameError", "MODEL_NAME", "g.py:2"]),
        ({}, ["dev", "--config", "."], ["names a directory"]),
        ({}, ["worker", "--config", "missing.json", "-v"], ["config file not found: missing.json"]),
    ],
    ids=["port-out-of-range", "edge-to-missing-node", "user-code-raises", "config-is-a-folder",
         "options-after-the-subcommand"],
)
def test_mistakes_are_one_line(tmp_path: Path, files: dict[str, str], args: list[str], expected: list[str]) -> None:
    (tmp_path / "duragraph.json").write_text('{"graphs": {"g": "./g.py:graph"}}')
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    line = one_line_error(duragraph(*args, cwd=tmp_path, env=dev_env(tmp_path / "data")))
    for part in expected:
        assert part in line, line
    assert not (tmp_path / "data").exists()


def test_dev_without_a_config_suggests_duragraph_new(tmp_path: Path) -> None:
    line = one_line_error(duragraph("dev", cwd=tmp_path, env=dev_env(tmp_path / "data")))
    assert "duragraph.json" in line and "langgraph.json" in line and "duragraph new" in line
    assert str(tmp_path) in line


@pytest.mark.parametrize(("command", "url", "expected"), [
    ("migrate", "postgresql://postgres@127.0.0.1:1/postgres", "cannot reach the database at postgresql://postgres@"),
    ("api", "postgresql://postgres@127.0.0.1:1/postgres", "cannot reach the database at postgresql://postgres@"),
    ("migrate", "postgresql://u:secret@localhost:port/db", "DATABASE_URL is malformed (postgresql://u:***@localhost"),
    ("api", "mysql://u@localhost/db", "DATABASE_URL is malformed"),
    ("worker", "postgresql://u:secret@localhost:port/db", "DATABASE_URL is malformed (postgresql://u:***@localhost"),
], ids=["migrate-unreachable", "api-unreachable", "migrate-bad-port", "api-not-postgres",
        "worker-bad-port"])
def test_database_url_problems_are_one_line(command: str, url: str, expected: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    line = one_line_error(duragraph(command, "--config", str(CONFIG), env=env))
    assert expected in line and "secret" not in line


def test_version_help_and_start_up_time() -> None:
    res = duragraph("--version")
    assert res.returncode == 0 and res.stdout.startswith("duragraph ")
    help_text = duragraph("--help").stdout
    assert "--config" in help_text and "--version" in help_text
    for command in ("dev", "new", "run", "runs", "threads", "inbox", "resume"):
        assert f"    {command} " in help_text
    code = ("import time, sys; t = time.perf_counter(); sys.argv = ['duragraph', '--help']\n"
            "from duragraph.cli import main\ntry: main()\nexcept SystemExit: pass\n"
            "print(time.perf_counter() - t, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=REPO)
    assert float(res.stderr.strip().splitlines()[-1]) < 0.3


def test_example_client_without_its_extra_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "langgraph_sdk.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = subprocess.run([sys.executable, str(REPO / "examples" / "approval" / "client.py")], capture_output=True,
                         text=True, timeout=60, env=env)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip() == "duragraph: error: this client needs langgraph-sdk: pip install -e '.[examples]'"
