"""A fresh, migrated database for a benchmark: in the server DATABASE_URL names, else in an embedded
PostgreSQL with fsync on (in a temporary folder), dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from engine.durable.migrate import migrate


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """Yields the DSN of a new migrated database."""
    from duragraph.services import EmbeddedPostgres

    tmp = Path(tempfile.mkdtemp(prefix=f"duragraph-{prefix}-"))
    pg = None
    try:
        server = os.environ.get("DATABASE_URL")
        if not server:
            pg = EmbeddedPostgres(tmp / "postgres", durable=True).start()
            server = pg.dsn
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
        dsn = with_database(server, name)
        try:
            asyncio.run(migrate(dsn))
            yield dsn
        finally:
            asyncio.run(admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def with_database(dsn: str, name: str) -> str:
    """`dsn` naming database `name` instead."""
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def admin(dsn: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE / DROP DATABASE, ALTER SYSTEM...) on their own connection."""
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()
