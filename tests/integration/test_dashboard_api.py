"""The dashboard's read endpoints (/ui/api) and its files, against a live API and workers: server-side pages,
filters, a run's tasks, the overview's counts, refusals as {"detail", "code"}, and the caller's access
scope (custom auth) applied to every list."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.auth import CustomAuth, Security
from duragraph.config import load_auth, load_graphs, read_config
from tests.browser.ui_graphs import GRAPHS
from tests.integration.api_support import live, live_stack
from tests.integration.server import serve_api
from tests.support import eventually

AUTH_CONFIG = Path(__file__).parent / "auth_app" / "duragraph.json"


async def _wait_status(http: httpx.AsyncClient, tid: str, status: str) -> None:
    async def check() -> bool:
        return bool((await http.get(f"/threads/{tid}")).json()["status"] == status)
    await eventually(check, what=f"thread {status}")


async def test_pages_filters_tasks_and_overview(database_url: str) -> None:
    async with live(database_url, GRAPHS) as (url, _), httpx.AsyncClient(base_url=url) as http:
        tids = [(await http.post("/threads", json={"metadata": {"team": "a" if i % 2 else "b", "n": i}})).json()
                ["thread_id"] for i in range(7)]
        run = (await http.post(f"/threads/{tids[0]}/runs", json={"assistant_id": "steps",
                                                                "input": {"topic": "t"}})).json()
        fail = (await http.post(f"/threads/{tids[1]}/runs", json={"assistant_id": "job", "input": {"fail": True}})
                ).json()
        await _wait_status(http, tids[0], "idle")
        await _wait_status(http, tids[1], "error")

        page = (await http.get("/ui/api/threads", params={"limit": 3, "offset": 0})).json()
        assert page["total"] == 7 and len(page["items"]) == 3
        rest = (await http.get("/ui/api/threads", params={"limit": 3, "offset": 6})).json()
        assert len(rest["items"]) == 1
        assert (await http.get("/ui/api/threads", params={"q": "team=a"})).json()["total"] == 3
        assert (await http.get("/ui/api/threads", params={"q": '{"team": "b", "n": 4}'})).json()["total"] == 1
        assert (await http.get("/ui/api/threads", params={"q": "team=b n=4"})).json()["total"] == 1
        one = (await http.get("/ui/api/threads", params={"q": tids[3]})).json()
        assert [t["thread_id"] for t in one["items"]] == [tids[3]]
        errored = (await http.get("/ui/api/threads", params={"status": "error"})).json()
        assert [t["thread_id"] for t in errored["items"]] == [tids[1]]

        runs = (await http.get("/ui/api/runs")).json()
        assert {r["run_id"] for r in runs["items"]} == {run["run_id"], fail["run_id"]}
        failed = (await http.get("/ui/api/runs", params={"status": "error"})).json()["items"]
        assert [r["run_id"] for r in failed] == [fail["run_id"]]
        assert failed[0]["error"] == {"type": "ValueError", "message": "the payment service refused the card"}

        detail = (await http.get(f"/ui/api/runs/{run['run_id']}")).json()
        assert detail["run"]["status"] == "success" and detail["run"]["duration"] > 0
        tasks = detail["tasks"]
        assert [t["name"] for t in tasks] == ["research", "outline", "write"]
        assert tasks[1]["input"]["trail"] == ["research"]  # the state the task was planned from
        assert tasks[1]["output"] == {"trail": ["outline"],
                                      "messages": [{"type": "ai", "content": "outline done on t"}]}
        assert all(t["attempts"] == 1 and t["status"] == "success" and t["error"] is None for t in tasks)

        overview = (await http.get("/ui/api/overview")).json()
        assert overview["runs"]["hour"]["success"] == 1 and overview["runs"]["day"]["error"] == 1
        assert overview["threads"] == {"idle": 6, "busy": 0, "interrupted": 0, "error": 1}
        assert overview["workers_alive"] >= 1 and overview["queue"] == {"waiting": 0, "running": 0}

        for path, params in (("/ui/api/threads", {"limit": 0}), ("/ui/api/threads", {"status": "nope"}),
                             ("/ui/api/threads", {"q": "{bad json"}), ("/ui/api/threads", {"q": "not-a-uuid"}),
                             ("/ui/api/runs", {"offset": -1}), ("/ui/api/runs", {"thread_id": "x"})):
            r = await http.get(path, params=params)
            assert r.status_code == 422 and set(r.json()) == {"detail", "code"}, (params, r.text)
        missing = await http.get("/ui/api/runs/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_files_are_open_but_data_needs_the_key(database_url: str) -> None:
    with serve_api(database_url, GRAPHS, security=Security(api_keys=frozenset({"k"}))) as url:
        with httpx.Client(base_url=url) as http:
            index = http.get("/ui")
            assert index.status_code == 200 and "text/html" in index.headers["content-type"]
            assert http.get("/ui/static/js/main.js").status_code == 200
            lic = http.get("/ui/static/vendor/dagre/LICENSE")
            assert lic.status_code == 200 and "Permission is hereby granted" in lic.text
            assert http.get("/ui/api/config").json() == {"auth": "api_keys"}
            refused = http.get("/ui/api/overview")
            assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
            assert http.get("/ui/api/overview", headers={"x-api-key": "k"}).status_code == 200


async def test_lists_follow_the_callers_access_scope(database_url: str, nats_url: str, nats_prefix: str) -> None:
    config = read_config(AUTH_CONFIG)
    security = Security(custom=CustomAuth(load_auth(config)))
    async with live_stack(database_url, nats_url, nats_prefix, load_graphs(config),
                          app_kw={"security": security}) as stack:
        alice = httpx.AsyncClient(base_url=stack.url, headers={"Authorization": "Bearer alice-token"})
        bob = httpx.AsyncClient(base_url=stack.url, headers={"Authorization": "Bearer bob-token"})
        async with alice, bob:
            a = (await alice.post("/threads", json={})).json()["thread_id"]
            b = (await bob.post("/threads", json={})).json()["thread_id"]
            b_run = (await bob.post(f"/threads/{b}/runs", json={"assistant_id": "agent", "input": {}})).json()
            await _wait_status(bob, b, "interrupted")
            assert [t["thread_id"] for t in (await alice.get("/ui/api/threads")).json()["items"]] == [a]
            assert [t["thread_id"] for t in (await bob.get("/ui/api/threads")).json()["items"]] == [b]
            assert (await alice.get("/ui/api/runs")).json()["total"] == 0
            assert (await bob.get("/ui/api/runs")).json()["total"] == 1
            assert (await alice.get(f"/ui/api/runs/{b_run['run_id']}")).status_code == 404
            assert (await bob.get(f"/ui/api/runs/{b_run['run_id']}")).status_code == 200
            alice_view = (await alice.get("/ui/api/overview")).json()
            assert alice_view["threads"]["interrupted"] == 0 and alice_view["threads"]["idle"] == 1
            assert (await bob.get("/ui/api/overview")).json()["threads"]["interrupted"] == 1
