"""asyncpg connection setup shared by every process: jsonb <-> Python via orjson."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from engine.core import codec


def _jsonb_out(value: Any) -> bytes:
    return _JSONB_VERSION + codec.wire_dumps(value)


def _jsonb_in(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


_JSONB_VERSION = b"\x01"  # jsonb's binary form: a version byte, then the JSON text


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb and json in PostgreSQL's binary form: orjson's UTF-8 bytes go to the socket as they are (the
    text form would decode them to str for asyncpg to encode again, and the reverse on every read)."""
    await conn.set_type_codec("jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary")
    await conn.set_type_codec("json", encoder=codec.wire_dumps, decoder=orjson.loads, schema="pg_catalog",
                              format="binary")


async def _reset(conn: asyncpg.Connection) -> None:
    """Pooled connections keep no session state (LISTEN and advisory locks use dedicated connections), so
    the default reset (RESET ALL, UNLISTEN *, CLOSE ALL, unlock all: a round trip per release) is skipped."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=_reset)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


def jsonb_text(value: Any) -> str | None:
    """Encode for a `text[]` parameter cast to jsonb in SQL (asyncpg would read a list inside a
    `jsonb[]` parameter as another array dimension). None stays SQL NULL."""
    if value is None:
        return None
    return codec.wire_dumps(value).decode()
