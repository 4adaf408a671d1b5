"""How fast the dashboard's pages load with 10,000 threads (and 20,000 runs) in the database.

Seeds the rows in SQL (the shapes the engine writes), plus one real run through the API and a worker, then:
- times each `/ui/api` read endpoint over HTTP (median / p95 of 20 calls);
- loads each page in headless Chromium (Debian's `chromium`, driven by Playwright) from a blank tab until
  its data is on screen (median / max of 7 loads): a full page load, module imports and API calls included.

    python benchmarks/dashboard_load.py [--threads 10000]

Against DATABASE_URL when set (a fresh database is created in that server), else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import statistics
import threading
import time
from collections.abc import Iterator

import asyncpg
import httpx
import uvicorn
from fresh_database import fresh_database  # benchmarks/fresh_database.py (scripts run from this folder)

from api.app import create_app
from duragraph.services import free_port
from engine.durable.worker import run_worker
from tests.browser.ui_graphs import GRAPHS

CHROMIUM = os.environ.get("DURAGRAPH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

SEED = """
WITH t AS (
    INSERT INTO threads (thread_id, metadata, status, interrupts, graph_id, created_at, updated_at)
    SELECT gen_random_uuid(),
           jsonb_build_object('owner', 'user-' || (i % 50), 'n', i, 'graph_id', 'steps'),
           CASE i % 20 WHEN 0 THEN 'interrupted' WHEN 1 THEN 'error' WHEN 2 THEN 'busy' ELSE 'idle' END,
           CASE WHEN i % 20 = 0 THEN jsonb_build_object(gen_random_uuid()::text,
                jsonb_build_array(jsonb_build_object('value', 'Publish?', 'id', md5(i::text)))) ELSE '{}' END,
           'steps', now() - make_interval(secs => i * 15), now() - make_interval(secs => i * 15 - 1)
    FROM generate_series(1, $1::int) AS i
    RETURNING thread_id, status, created_at
)
INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status, kwargs, error, created_at, updated_at, ended_at)
SELECT gen_random_uuid(), t.thread_id, $2::uuid, 'steps',
       CASE WHEN k = 2 AND t.status = 'error' THEN 'error' WHEN k = 2 AND t.status = 'busy' THEN 'running'
            ELSE 'success' END,
       jsonb_build_object('input', jsonb_build_object('topic', 'x')),
       CASE WHEN k = 2 AND t.status = 'error'
            THEN jsonb_build_object('type', 'ValueError', 'message', 'refused') END,
       t.created_at + make_interval(secs => k), t.created_at + make_interval(secs => k + 1),
       CASE WHEN k = 2 AND t.status = 'busy' THEN NULL ELSE t.created_at + make_interval(secs => k + 1) END
FROM t, generate_series(1, 2) AS k
"""


@contextlib.contextmanager
def serve(dsn: str) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(database_url=dsn, graphs=GRAPHS), port=port,
                                           log_level="warning", lifespan="on", ws="none", http="h11"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            if server.started and httpx.get(f"{url}/ok").status_code == 200:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("API did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered):6.1f} ms   p95/max {p95:6.1f} ms"


async def seed(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        aid = await conn.fetchval("SELECT assistant_id FROM assistants WHERE graph_id = 'steps' LIMIT 1")
        started = time.perf_counter()
        await conn.execute(SEED, n, aid)
        await conn.execute("ANALYZE")
        print(f"seeded {n} threads and {2 * n} runs in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()


async def real_run(url: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=url) as http:
        tid = (await http.post("/threads", json={"metadata": {"owner": "bench"}})).json()["thread_id"]
        rid = (await http.post(f"/threads/{tid}/runs", json={"assistant_id": "steps",
                                                             "input": {"topic": "bench"}})).json()["run_id"]
        for _ in range(600):
            if (await http.get(f"/threads/{tid}/runs/{rid}")).json()["status"] == "success":
                return tid, rid
            await asyncio.sleep(0.05)
    raise RuntimeError("the real run did not finish")


async def api_timings(url: str, tid: str, rid: str) -> None:
    calls = [("overview", "/ui/api/overview"), ("threads, first page", "/ui/api/threads?limit=50"),
             ("threads, offset 5000", "/ui/api/threads?limit=50&offset=5000"),
             ("threads, interrupted", "/ui/api/threads?status=interrupted"),
             ("threads, metadata owner=user-7", "/ui/api/threads?q=owner%3Duser-7"),
             ("runs, first page", "/ui/api/runs?limit=50"), ("runs, errors", "/ui/api/runs?status=error"),
             ("runs of a thread", f"/ui/api/runs?thread_id={tid}"), ("a run and its tasks", f"/ui/api/runs/{rid}")]
    print("\n/ui/api endpoints (20 calls each):")
    async with httpx.AsyncClient(base_url=url) as http:
        for label, path in calls:
            samples = []
            for _ in range(20):
                t0 = time.perf_counter()
                r = await http.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            print(f"  {label:34} {stats(samples)}", flush=True)


async def page_loads(url: str, tid: str, rid: str, repeat: int) -> None:
    from playwright.async_api import async_playwright

    pages = [("Overview", "/", "#inbox"), ("Threads", "/threads", "#threads-table tbody tr"),
             ("Threads, page 101", "/threads?offset=5000", "#threads-table tbody tr"),
             ("Threads, interrupted", "/threads?status=interrupted", "#threads-table tbody tr"),
             ("Threads, owner=user-7", "/threads?q=owner%3Duser-7", "#threads-table tbody tr"),
             ("Runs", "/runs", "#runs-table tbody tr"), ("Runs, errors", "/runs?status=error", "#runs-table tbody tr"),
             ("a thread", f"/threads/{tid}", "#timeline li"),
             ("a run (reload: log resumed)", f"/runs/{tid}/{rid}", '#stream-state:text("(ended)")'),
             ("Assistants", "/assistants", "section.assistant")]
    print(f"\npage loads in headless Chromium, blank tab -> data on screen ({repeat} loads each):")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context()
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for label, route, selector in pages:
            samples = []
            for _ in range(repeat + 1):
                await page.goto("about:blank")
                t0 = time.perf_counter()
                await page.goto(f"{url}/ui#{route}")
                await page.locator(selector).first.wait_for(state="visible")
                samples.append((time.perf_counter() - t0) * 1000)
            print(f"  {label:34} {stats(samples[1:])}", flush=True)  # the first load warms the cache
        await browser.close()
        if errors:
            raise RuntimeError(f"console errors: {errors}")


async def bench(dsn: str, n: int, repeat: int) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(database_url=dsn, graphs=GRAPHS, concurrency=4, stop=stop,
                                            install_signal_handlers=False))
    try:
        with serve(dsn) as url:
            await seed(dsn, n)
            tid, rid = await real_run(url)
            await api_timings(url, tid, rid)
            await page_loads(url, tid, rid, repeat)
    finally:
        stop.set()
        await asyncio.gather(worker, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with fresh_database("bench") as dsn:
        asyncio.run(bench(dsn, args.threads, args.repeat))


if __name__ == "__main__":
    main()
