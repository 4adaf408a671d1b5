"""/docs renders Swagger UI in headless chromium with every request outside the API refused (no
internet): its assets come from the server, and it lists the API's operations from /openapi.json."""

from __future__ import annotations

from typing import Any

from tests.integration import graphs as G
from tests.integration.engine_support import engine
from tests.integration.server import serve_api


async def test_docs_render_offline(database_url: str, browser: Any) -> None:
    graphs = {"linear": G.linear(2)}
    async with engine(database_url, graphs):
        with serve_api(database_url, graphs) as url:
            context = await browser.new_context()
            outside: list[str] = []

            async def route(r: Any) -> None:
                if r.request.url.startswith(url):
                    await r.continue_()
                else:  # no network: anything not from the API fails
                    outside.append(r.request.url)
                    await r.abort()

            await context.route("**/*", route)
            page = await context.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda req: failed.append(req.url))
            await page.goto(f"{url}/docs", wait_until="networkidle")
            await page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "DuraGraph" in await page.inner_text(".swagger-ui .info .title")
            await page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            paths = set(await page.locator(".opblock-summary-path").all_inner_texts())
            assert "/threads/{thread_id}/runs/stream" in {p.replace("\u200b", "") for p in paths}
            assert outside == [] and failed == []
            await context.close()
