"""Real services for the integration and acceptance tiers.

PostgreSQL and NATS come from `DATABASE_URL` / `NATS_URL` when set, else embedded servers are started
once per test session (never skipped). A template database is migrated once; each test gets a fresh
database cloned from it, and a unique NATS subject/stream prefix.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from duragraph.services import Endpoints, services
from engine.durable.migrate import migrate

TEMPLATE = "duragraph_template"


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    data_dir = Path(tempfile.mkdtemp(prefix="duragraph-test-"))
    try:
        with services(data_dir, durable=False) as ep:
            yield ep
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for s in statements:
            await conn.execute(s)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_dsn(endpoints: Endpoints) -> str:
    suffix = uuid.uuid4().hex[:8]
    name = f"{TEMPLATE}_{suffix}"
    asyncio.run(_admin(endpoints.database_url, f'CREATE DATABASE "{name}"'))
    dsn = with_database(endpoints.database_url, name)
    asyncio.run(migrate(dsn))
    return dsn


@pytest.fixture
def database_url(endpoints: Endpoints, template_dsn: str) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    template = urlsplit(template_dsn).path.lstrip("/")
    asyncio.run(_admin(endpoints.database_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield with_database(endpoints.database_url, name)
    asyncio.run(_admin(endpoints.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database_url(endpoints: Endpoints) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"e_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(endpoints.database_url, f'CREATE DATABASE "{name}"'))
    yield with_database(endpoints.database_url, name)
    asyncio.run(_admin(endpoints.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def nats_url(endpoints: Endpoints) -> str:
    return endpoints.nats_url


@pytest.fixture
def nats_prefix() -> str:
    """A unique prefix for this test's JetStream streams and subjects."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    # tests pass endpoints explicitly; a stray DATABASE_URL must not redirect a process under test
    for var in ("DURAGRAPH_CONFIG",):
        monkeypatch.delenv(var, raising=False)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
