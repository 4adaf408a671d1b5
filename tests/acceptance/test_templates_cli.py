"""`duragraph new` + `duragraph dev` on each template, answered through langgraph-sdk; the project's own
test passes; the command-line client (`run --wait`, `inbox`, `resume`, `runs tail`, `threads state`) against
the real server, its `--json` parsed; editing a node's file while a run waits at an interrupt makes the
resumed run use the new code, and a file that does not import keeps the old graphs.

The templates are plain LangGraph code (langgraph.json, `from langgraph.graph import StateGraph`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.acceptance.test_dev_command import Dev, processes_using
from tests.support import eventually_sync

pytestmark = pytest.mark.acceptance


def duragraph(*args: str, cwd: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"DURAGRAPH_URL": url} if url else {})}
    return subprocess.run([sys.executable, "-m", "duragraph.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    return res.stdout


def new_project(tmp_path: Path, template: str) -> Path:
    project = tmp_path / f"my-{template}"
    out = ok(duragraph("new", str(project), "--template", template, cwd=tmp_path))
    assert f"created {project}/" in out
    assert {p.name for p in project.iterdir()} >= {"graph.py", "langgraph.json", "README.md", "test_graph.py"}
    assert len((project / "README.md").read_text().strip().splitlines()) <= 6  # a title and five lines
    return project


@pytest.fixture
def dev_in(tmp_path: Path) -> Iterator[list[Dev]]:
    started: list[Dev] = []
    yield started
    for dev in started:
        dev.kill()
        for pid, _ in processes_using(dev.data_dir):
            os.kill(pid, 9)


def start_dev(project: Path, started: list[Dev], *args: str) -> Dev:
    """`duragraph dev` in the project folder: it finds langgraph.json there by itself."""
    dev = Dev(project / ".duragraph", project / "dev.log", project / "langgraph.json", *args, cwd=project)
    started.append(dev)
    dev.wait_ready()
    return dev


def client_ok(url: str) -> bool:
    return bool(get_sync_client(url=url, api_key=None).assistants.search(graph_id="approval"))


def test_new_lists_its_templates(tmp_path: Path) -> None:
    out = ok(duragraph("new", "--list", cwd=tmp_path))
    assert [line.split()[0] for line in out.strip().splitlines()] == ["minimal", "approval", "agent"]
    res = duragraph("new", "--template", "nope", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("duragraph: error: no template 'nope'")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("template", ["minimal", "agent"])
def test_template_runs_on_dev_and_its_test_passes(tmp_path: Path, dev_in: list[Dev], template: str) -> None:
    project = new_project(tmp_path, template)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_graph.py"],
                         capture_output=True, text=True, timeout=120, cwd=project)
    assert res.returncode == 0, res.stdout + res.stderr

    dev = start_dev(project, dev_in, "--no-reload")
    assert "Reload: off" in dev.output()
    client = get_sync_client(url=dev.url, api_key=None)
    thread = client.threads.create()["thread_id"]
    if template == "minimal":
        values = client.runs.wait(thread, "hello", input={"name": "Ada"})
        assert values["greeting"] == "Hello, Ada!"
    else:
        values = client.runs.wait(thread, "agent", input={
            "messages": [{"role": "user", "content": "What is the weather in Lisbon?"}]})
        messages = values["messages"]
        assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
        assert "sunny" in messages[-1]["content"] and "Lisbon" in messages[-1]["content"]
    assert dev.interrupt() == 0, dev.output()


@pytest.mark.timeout(300)
def test_approval_template_cli_client_and_hot_reload(tmp_path: Path, dev_in: list[Dev]) -> None:
    project = new_project(tmp_path, "approval")
    dev = start_dev(project, dev_in)
    assert "Reload: on" in dev.output()

    # an unknown graph: one line, and no empty thread left behind
    refused = duragraph("run", "nope", "--wait", cwd=project, url=dev.url)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "404 Invalid assistant: 'nope'" in refused.stderr
    assert json.loads(ok(duragraph("threads", "list", "--json", cwd=project, url=dev.url))) == []

    # run --wait: the live progress line names the nodes as they commit; stdout is the JSON result
    res = duragraph("run", "approval", "--input", '{"request": "refund"}', "--wait", "--json", cwd=project,
                    url=dev.url)
    result = json.loads(ok(res))
    thread = result["thread_id"]
    assert result["status"] == "interrupted" and result["values"]["draft"].startswith("Dear customer")
    assert f"run {result['run_id']}: draft > interrupt" in res.stderr

    # inbox: the waiting thread with the interrupt's value
    inbox = json.loads(ok(duragraph("inbox", "--json", cwd=project, url=dev.url)))
    [item] = [i for i in inbox if i["thread_id"] == thread]
    assert item["value"]["question"] == "Send this reply?" and item["graph_id"] == "approval"
    assert thread in ok(duragraph("inbox", cwd=project, url=dev.url))  # the table

    # a graph file that does not import: one line, the graphs being served are kept
    graph = project / "graph.py"
    source = graph.read_text()
    graph.write_text(source + "\ndef oops(:\n")
    eventually_sync(lambda: "duragraph: reload failed" in dev.output(), within=30, what="the failed reload")
    [line] = [x for x in dev.output().splitlines() if x.startswith("duragraph: reload failed")]
    assert "SyntaxError" in line and "graph.py:" in line and "still serving the previous graphs" in line
    assert "Traceback" not in dev.output()
    assert client_ok(dev.url)

    # edit the node the resumed run will execute next; the server reloads it, even with a stream open
    # (as LangGraph Studio keeps one): the stream is cut after a short drain
    opened = threading.Event()

    def hold_a_stream() -> None:
        with contextlib.suppress(httpx.HTTPError), httpx.stream(
                "GET", f"{dev.url}/threads/{thread}/stream", timeout=120) as response:
            opened.set()
            for _ in response.iter_bytes():
                pass

    threading.Thread(target=hold_a_stream, daemon=True).start()
    assert opened.wait(30)
    graph.write_text(source.replace('{"outcome": "sent" if', '{"outcome": "sent by v2" if'))
    eventually_sync(lambda: "reloaded: approval" in dev.output(), within=30, what="the reload")

    # resume: the new code runs; the --json output parses
    resumed = json.loads(ok(duragraph("resume", thread, "--id", item["interrupt_id"], "--value", '"yes"',
                                      "--json", cwd=project, url=dev.url)))
    assert resumed["status"] == "idle" and resumed["values"]["outcome"] == "sent by v2"

    state = json.loads(ok(duragraph("threads", "state", thread, "--json", cwd=project, url=dev.url)))
    assert state["values"]["outcome"] == "sent by v2" and state["next"] == []

    # runs tail: the whole event stream of the resumed run, one JSON object per line
    lines = ok(duragraph("runs", "tail", thread, resumed["run_id"], "--json", cwd=project, url=dev.url))
    events = [json.loads(x) for x in lines.strip().splitlines()]
    assert events[0]["event"] == "metadata" and events[-1]["data"] == {"send": {"outcome": "sent by v2"}}
    assert ok(duragraph("runs", "list", thread, cwd=project, url=dev.url)).count("success") == 2

    # resuming again: nothing waits any more, one line
    again = duragraph("resume", thread, "--value", '"yes"', cwd=project, url=dev.url)
    assert again.returncode == 2
    assert again.stderr == f"duragraph: error: thread {thread} is idle, not waiting on an interrupt\n"
    assert dev.interrupt() == 0, dev.output()


def test_client_without_a_server_is_one_line(tmp_path: Path) -> None:
    res = duragraph("threads", "list", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("duragraph: error: cannot reach http://127.0.0.1:9")
    assert len(res.stderr.strip().splitlines()) == 1
