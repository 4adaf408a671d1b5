"""The dashboard at /ui in headless Chromium against a real stack: a run streamed live to completion (and
resumed after a reload), an interrupt answered from the inbox, a fork from an edited earlier checkpoint,
a cancel, a failed run's error, the API key asked once. Every test also checks the browser console stays
free of errors. Two of them take the README's screenshots (`DURAGRAPH_SCREENSHOTS=docs` saves them there)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from api.auth import CustomAuth, Security
from duragraph.config import load_auth, load_graphs, read_config
from tests.browser.ui_graphs import GRAPHS
from tests.integration.api_support import Stack, live_stack
from tests.support import eventually

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: the README's are refreshed with `DURAGRAPH_SCREENSHOTS=docs pytest tests/browser`
    (a path relative to the repository), otherwise a temporary directory (the tests take them either way)."""
    target = os.environ.get("DURAGRAPH_SCREENSHOTS")
    if not target:
        return tmp_path
    path = Path(target) if Path(target).is_absolute() else Path(__file__).resolve().parents[2] / target
    path.mkdir(parents=True, exist_ok=True)
    return path


class Dashboard:
    """One browser page on the stack's /ui, recording console errors and uncaught exceptions."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    async def open(self, route: str) -> Page:
        await self.page.goto(f"{self.base}/ui#{route}")
        return self.page

    def no_console_errors(self) -> None:
        assert self.errors == []


@asynccontextmanager
async def dashboard(browser: Browser, stack: Stack) -> AsyncIterator[Dashboard]:
    context = await browser.new_context(viewport={"width": 1360, "height": 1000})
    try:
        d = Dashboard(await context.new_page(), stack.url)
        yield d
        d.no_console_errors()
    finally:
        await context.close()


async def start_run(http: httpx.AsyncClient, graph: str, body: dict[str, Any]) -> tuple[str, str]:
    tid = (await http.post("/threads", json={})).json()["thread_id"]
    run = (await http.post(f"/threads/{tid}/runs", json={"assistant_id": graph, **body})).json()
    return tid, run["run_id"]


async def run_status(http: httpx.AsyncClient, tid: str, rid: str) -> str:
    status: str = (await http.get(f"/threads/{tid}/runs/{rid}")).json()["status"]
    return status


def node(page: Page, name: str) -> Any:
    return page.locator(f'#run-graph g.node[data-node="{name}"]')


async def test_run_streams_live_to_completion_and_resumes_after_reload(
        browser: Browser, database_url: str, nats_url: str, nats_prefix: str, shots: Path) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, dashboard(browser, stack) as d:
        page = await d.open("/assistants")
        card = page.locator('section.assistant[data-graph-id="steps"]')
        await card.locator("textarea.run-input").fill('{"topic": "durability", "delay": 1.5}')
        await card.get_by_role("button", name="Start run").click()
        await expect(page.locator("#run-head h1")).to_contain_text("Run ")
        # live: the graph lights the running node while it runs, and the log grows as it goes
        await expect(node(page, "research")).to_have_class(re.compile(r"\bcurrent\b"))
        await expect(node(page, "outline")).to_have_class(re.compile(r"\bcurrent\b"))
        await expect(node(page, "research")).to_have_class(re.compile(r"\bdone\b"))
        await page.screenshot(path=str(shots / "dashboard-run.png"), full_page=True)
        await expect(page.locator("#run-status")).to_have_text("running")
        # a reload mid-run shows what was seen and resumes after the last id
        await page.reload()
        await expect(page.locator("#run-status")).to_have_text("success", timeout=20_000)
        await expect(page.locator("#stream-state")).to_have_text("(ended)")
        log = page.locator("#event-log li")
        ids = [s for s in await log.locator(".id").all_inner_texts() if s]
        seqs = [int(i.split(":")[0]) for i in ids]
        assert seqs == sorted(seqs) and len(ids) == len(set(ids)), ids  # no duplicates, in order
        assert set(range(1, max(seqs) + 1)) <= set(seqs)  # and no gaps: every event of the run
        await expect(page.locator("#event-log")).to_contain_text("task write done")
        rows = page.locator("#tasks tbody tr")
        await expect(rows).to_have_count(3)
        await expect(page.locator('#tasks tr[data-status="success"]')).to_have_count(3)
        await expect(page.locator('#tasks tr[data-task="write"] .attempts')).to_have_text("1")
        await expect(node(page, "write")).to_have_class(re.compile(r"\bdone\b"))
        assert await page.locator("#cancel-run").count() == 0


async def test_interrupted_thread_answered_from_the_inbox(
        browser: Browser, database_url: str, nats_url: str, nats_prefix: str, shots: Path) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, \
            httpx.AsyncClient(base_url=stack.url) as http, dashboard(browser, stack) as d:
        tid, _ = await start_run(http, "approval", {"input": {"draft": "release notes"}})
        await eventually(lambda: _thread_status(http, tid, "interrupted"), what="thread waits for a human")
        page = await d.open("/")
        inbox = page.locator("#inbox")
        await expect(inbox).to_contain_text("1 interrupt")
        await inbox.locator(f'a[href="#/threads/{tid}"]').click()
        box = page.locator("#interrupts")
        await expect(box).to_contain_text("Publish this draft?")
        await expect(page.locator("#state .chat")).to_contain_text("Draft about release notes")
        await page.screenshot(path=str(shots / "dashboard-interrupt.png"), full_page=True)
        await box.locator("textarea.answer").fill("yes, ship it")
        await box.get_by_role("button", name="Answer and resume").click()
        await expect(page.locator("#run-status")).to_have_text("success", timeout=20_000)
        await expect(node(page, "publish")).to_have_class(re.compile(r"\bdone\b"))
        await page.locator("#run-head a.mono").first.click()  # back to the thread
        await expect(page.locator("#thread-status")).to_have_text("idle")
        await expect(page.locator("#interrupts")).to_have_count(0)
        await expect(page.locator("#state .chat")).to_contain_text("yes, ship it")
        state = (await http.get(f"/threads/{tid}/state")).json()
        assert state["values"]["published"] == "DRAFT ABOUT RELEASE NOTES"


async def _thread_status(http: httpx.AsyncClient, tid: str, status: str) -> bool:
    return bool((await http.get(f"/threads/{tid}")).json()["status"] == status)


async def test_fork_from_an_earlier_checkpoint_with_edited_state(
        browser: Browser, database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, \
            httpx.AsyncClient(base_url=stack.url) as http, dashboard(browser, stack) as d:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        page = await d.open(f"/threads/{tid}")
        await expect(page.locator("#runs h2")).to_have_text("Runs (0)")
        # the thread page follows the thread live: a run started elsewhere shows up and ends on screen
        await http.post(f"/threads/{tid}/runs", json={"assistant_id": "steps", "input": {"topic": "cats"}})
        await expect(page.locator("#state .chat")).to_contain_text("write done on cats", timeout=20_000)
        await expect(page.locator("#runs h2")).to_have_text("Runs (1)")
        await expect(page.locator("#thread-status")).to_have_text("idle")
        # the checkpoint after `research`, whose next step is `outline`
        await page.locator('#timeline li[data-step="1"]').click()
        editor = page.locator("#state-editor")
        text = await editor.input_value()
        assert '"topic": "cats"' in text
        await editor.fill(text.replace('"topic": "cats"', '"topic": "dogs"'))
        await page.locator("#save-state").click()
        await expect(page.locator("#saved-checkpoint")).to_contain_text("changed: topic")
        saved = page.locator("#timeline li.saved")  # the edit is a new checkpoint on the timeline
        await expect(saved).to_have_count(1)
        assert await saved.get_attribute("data-checkpoint-id") in await page.locator("#saved-checkpoint").inner_text()
        await page.locator("#fork-run").click()
        await expect(page.locator("#run-status")).to_have_text("success", timeout=20_000)
        await expect(page.locator('#tasks tr[data-task="outline"]')).to_contain_text("outline done on dogs")
        values = (await http.get(f"/threads/{tid}/state")).json()["values"]
        assert values["topic"] == "dogs"
        assert values["trail"] == ["research", "outline", "write"]  # the fork replaced the first run's ending
        assert [m["content"] for m in values["messages"]][-2:] == ["outline done on dogs", "write done on dogs"]


async def test_cancel_a_running_run(browser: Browser, database_url: str, nats_url: str, nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, \
            httpx.AsyncClient(base_url=stack.url) as http, dashboard(browser, stack) as d:
        tid, rid = await start_run(http, "job", {"input": {"seconds": 120}})
        page = await d.open(f"/runs/{tid}/{rid}")
        await expect(node(page, "work")).to_have_class(re.compile(r"\bcurrent\b"))
        await expect(page.locator("#run-status")).to_have_text("running")
        await page.locator("#cancel-run").click()
        await expect(page.locator("#run-status")).not_to_have_text(re.compile("running|pending"), timeout=20_000)
        status = await run_status(http, tid, rid)
        assert status == "interrupted", status
        await expect(page.locator("#run-status")).to_have_text(status)
        await expect(page.locator("#cancel-run")).to_have_count(0)


async def test_failed_run_shows_its_error(browser: Browser, database_url: str, nats_url: str,
                                         nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, \
            httpx.AsyncClient(base_url=stack.url) as http, dashboard(browser, stack) as d:
        tid, rid = await start_run(http, "job", {"input": {"fail": True}})
        await eventually(lambda: _run_is(http, tid, rid, "error"), what="run failed")
        page = await d.open("/")
        failed = page.locator("#failed")
        await expect(failed).to_contain_text("the payment service refused the card")
        await failed.locator(f'a[href="#/runs/{tid}/{rid}"]').click()
        await expect(page.locator("#run-status")).to_have_text("error")
        await expect(page.locator(".run-error")).to_contain_text("ValueError")
        await expect(page.locator(".run-error")).to_contain_text("the payment service refused the card")
        await expect(page.locator('#tasks tr[data-task="work"] .task-error')).to_contain_text("refused the card")
        await expect(page.locator("#event-log li.error")).to_contain_text("refused the card")


async def _run_is(http: httpx.AsyncClient, tid: str, rid: str, status: str) -> bool:
    return await run_status(http, tid, rid) == status


async def test_api_key_entered_once_is_sent_on_every_call(
        browser: Browser, database_url: str, nats_url: str, nats_prefix: str) -> None:
    security = Security(api_keys=frozenset({"s3cret"}))
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS, app_kw={"security": security}) as stack, \
            httpx.AsyncClient(base_url=stack.url, headers={"x-api-key": "s3cret"}) as http, \
            dashboard(browser, stack) as d:
        assert (await httpx.AsyncClient(base_url=stack.url).get("/ui/api/overview")).status_code == 401
        tid, rid = await start_run(http, "steps", {"input": {"topic": "keys"}})
        await eventually(lambda: _run_is(http, tid, rid, "success"), what="run done")
        page = await d.open("/threads")
        dialog = page.locator("#login")
        await expect(dialog).to_be_visible()
        await dialog.locator('input[name="value"]').fill("s3cret")
        await dialog.get_by_role("button", name="Save").click()
        await expect(page.locator("#threads-table")).to_contain_text(tid[:8])
        await page.locator(f'#threads-table a[href="#/threads/{tid}"]').click()
        await expect(page.locator("#state .chat")).to_contain_text("write done on keys")
        await page.goto(f"{stack.url}/ui#/runs/{tid}/{rid}")  # a new page load: the key is remembered
        await expect(page.locator("#stream-state")).to_have_text("(ended)")
        await expect(page.locator("#event-log")).to_contain_text("task write done")
        await expect(dialog).to_be_hidden()


async def test_bearer_token_for_custom_auth_shows_the_users_own_threads(
        browser: Browser, database_url: str, nats_url: str, nats_prefix: str) -> None:
    config = read_config(Path(__file__).parents[1] / "integration" / "auth_app" / "duragraph.json")
    security = Security(custom=CustomAuth(load_auth(config)))
    async with live_stack(database_url, nats_url, nats_prefix, load_graphs(config),
                          app_kw={"security": security}) as stack, dashboard(browser, stack) as d:
        tokens = {"alice": "alice-token", "bob": "bob-token"}
        tids = {}
        for user, token in tokens.items():
            async with httpx.AsyncClient(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}) as http:
                tids[user] = (await http.post("/threads", json={"metadata": {"topic": user}})).json()["thread_id"]
        page = await d.open("/threads")
        dialog = page.locator("#login")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator('select[name="kind"]')).to_have_value("bearer")  # custom auth: a bearer token
        await dialog.locator('input[name="value"]').fill("alice-token")
        await dialog.get_by_role("button", name="Save").click()
        table = page.locator("#threads-table")
        await expect(table).to_contain_text(tids["alice"][:8])
        await expect(table.locator("tbody tr")).to_have_count(1)  # bob's thread is not alice's to see
        await expect(table).to_contain_text('"owner":"alice"')


async def test_run_log_resumes_across_an_api_restart(browser: Browser, database_url: str, nats_url: str,
                                                     nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, \
            httpx.AsyncClient(base_url=stack.url) as http, dashboard(browser, stack) as d:
        tid, rid = await start_run(http, "steps", {"input": {"topic": "restart", "delay": 1.5}})
        page = await d.open(f"/runs/{tid}/{rid}")
        await expect(node(page, "research")).to_have_class(re.compile(r"\bcurrent\b"))
        await stack.restart_api(down=1.0)  # the page's stream is cut; it reconnects after the last id seen
        await expect(page.locator("#run-status")).to_have_text("success", timeout=30_000)
        await expect(page.locator("#stream-state")).to_have_text("(ended)")
        ids = [s for s in await page.locator("#event-log li .id").all_inner_texts() if s]
        seqs = [int(i.split(":")[0]) for i in ids]
        assert seqs == sorted(seqs) and len(ids) == len(set(ids)), ids
        assert set(range(1, max(seqs) + 1)) <= set(seqs), ids
        await expect(page.locator("#event-log")).to_contain_text("task write done")
        # the browser logs the cut stream and the reconnects refused while the API was down; nothing else
        cut = ("ERR_INCOMPLETE_CHUNKED_ENCODING", "ERR_CONNECTION_REFUSED", "ERR_EMPTY_RESPONSE")
        d.errors = [e for e in d.errors if not any(c in e for c in cut)]


async def test_graph_page_draws_conditional_edges_and_subgraphs(browser: Browser, database_url: str, nats_url: str,
                                                                nats_prefix: str) -> None:
    async with live_stack(database_url, nats_url, nats_prefix, GRAPHS) as stack, dashboard(browser, stack) as d:
        page = await d.open("/assistants")
        await page.locator('section.assistant[data-graph-id="approval"] a', has_text="draw the graph").click()
        graph = page.locator("#graph")
        for name in ("__start__", "draft", "review", "publish", "__end__"):
            await expect(graph.locator(f'g.node[data-node="{name}"]')).to_have_count(1)
        conditional = graph.locator("path.edge.conditional")
        await expect(conditional).to_have_count(2)  # review -> publish | END
        assert {await e.get_attribute("data-target") for e in await conditional.all()} == {"publish", "__end__"}
        await d.open("/assistants")
        await page.locator('section.assistant[data-graph-id="nested"] a', has_text="draw the graph").click()
        for name in ("prepare", "team:draft_notes", "team:check_notes"):  # the subgraph's own nodes
            await expect(graph.locator(f'g.node[data-node="{name}"]')).to_have_count(1)
        await expect(graph.locator('path.edge[data-source="prepare"][data-target="team:draft_notes"]')).to_have_count(1)
