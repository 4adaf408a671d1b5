"""Apply procrastinate's schema (through its own schema manager) and our numbered migrations.

Idempotent, and safe when several processes run it at once: everything happens under one
session-level advisory lock, each migration in its own transaction with its version recorded.
"""

from __future__ import annotations

import asyncpg
from procrastinate.schema import SchemaManager

import sql

MIGRATE_LOCK = 0x64757261  # "dura"
Q = sql.queries("migrate.sql")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS duragraph_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def migrate(dsn: str) -> list[str]:
    """Bring the database at `dsn` up to date. Returns what was applied (empty when up to date)."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute(Q["lock"], MIGRATE_LOCK)
        try:
            await conn.execute(_BOOKKEEPING)
            if await conn.fetchval(Q["procrastinate_installed"]) is None:
                async with conn.transaction():
                    await conn.execute(SchemaManager.get_schema())
                applied.append("procrastinate schema")
            done = {r["version"] for r in await conn.fetch(Q["applied_versions"])}
            for m in sql.migrations():
                if m.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(Q["record_version"], m.version, m.name)
                applied.append(f"{m.version:04d}_{m.name}")
        finally:
            await conn.execute(Q["unlock"], MIGRATE_LOCK)
    finally:
        await conn.close()
    return applied
