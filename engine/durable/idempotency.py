"""Idempotent creation: a client's key, stored in the transaction that creates the resource.

`once(conn, key, create, ident, replay)`, inside the caller's transaction, claims the key first (before
any other lock: a concurrent request with the same key waits for this transaction, then sees what it
created), creates the resource and records its ids with the key. A repeat of the same request (same
fingerprint) within the retention window gets `replay(ids)` and creates nothing; the same key with
another request is refused. Keys older than the retention window are deleted by the housekeeping loop
(and ignored before that).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

import sql
from engine.errors import InvalidInput

Q = sql.queries("idempotency.sql")
R = TypeVar("R")
DEFAULT_RETENTION_SECONDS = 24 * 3600.0


MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    key: str  # as the client sent it
    fingerprint: str  # of the request: method, path and body
    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    owner: str = ""  # the authenticated user: keys are per user

    @property
    def stored(self) -> str:
        return f"{self.owner}\n{self.key}" if self.owner else self.key


async def once(
    conn: asyncpg.Connection,
    key: IdempotencyKey | None,
    create: Callable[[], Awaitable[R]],
    ident: Callable[[R], dict[str, Any]],
    replay: Callable[[dict[str, Any]], Awaitable[R]],
) -> R:
    """`create()` once per key (the caller's transaction is open); a repeat gets `replay(ident(first))`."""
    if key is None:
        return await create()
    if not 0 < len(key.key) <= MAX_KEY_LENGTH:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    await conn.execute(Q["drop_expired_key"], key.stored, key.retention_seconds)
    if await conn.fetchval(Q["claim_key"], key.stored, key.fingerprint) is None:
        prior = await conn.fetchrow(Q["get_key"], key.stored)
        if prior["fingerprint"] != key.fingerprint:
            raise InvalidInput(f"Idempotency-Key {key.key!r} was already used with a different request "
                               "(method, path or body); use a new key for a new request.")
        return await replay(prior["resource"])
    out = await create()
    await conn.execute(Q["record_key"], key.stored, ident(out))
    return out


async def delete_expired(pool: asyncpg.Pool, retention_seconds: float) -> int:
    async with pool.acquire() as conn:
        status = await conn.execute(Q["delete_expired_keys"], retention_seconds)
    return int(status.split()[-1])
