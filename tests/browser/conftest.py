"""Browser tests of the dashboard: Playwright driving the Debian `chromium` package (headless, through its
executable path; Playwright's own browser download is not used) against a real stack: API + workers +
relay + NATS + Postgres. `.ci/run` installs chromium when it is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DURAGRAPH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FOUND = Path(CHROMIUM).exists()
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not FOUND:
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            await b.close()
