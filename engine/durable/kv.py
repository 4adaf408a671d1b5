"""The key-value store: items under hierarchical namespaces, with an optional TTL in minutes.

Expired items are invisible to every read; `purge_expired` deletes them (run it periodically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

import sql
from engine.errors import InvalidInput, Unsupported

Q = sql.queries("store.sql")


def check_namespace(namespace: Sequence[str], *, writing: bool = False) -> list[str]:
    ns = list(namespace)
    for label in ns:
        if not isinstance(label, str) or not label:
            raise InvalidInput(f"Invalid namespace label {label!r}: labels must be non-empty strings")
        if "." in label:
            raise InvalidInput(f"Invalid namespace label {label!r}: labels cannot contain periods ('.')")
    if writing:
        if not ns:
            raise InvalidInput("Invalid namespace: it must have at least one label")
        if ns[0] == "langgraph":
            raise InvalidInput("Invalid namespace: the root label cannot be 'langgraph'")
    return ns


def split_namespace(dotted: str) -> list[str]:
    """The namespace of a GET query parameter (`a.b.c`)."""
    return dotted.split(".") if dotted else []


def _item(record: Any) -> dict[str, Any]:
    out = dict(record)
    out["namespace"] = list(out["namespace"])
    return out


def _filter(filter: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(must contain, must not contain each of) for a LangGraph store filter.

    A plain value means equality (approximated by jsonb containment); `{"$eq": v}` and `{"$ne": v}` are
    understood; range operators are not supported."""
    contains: dict[str, Any] = {}
    excludes: list[dict[str, Any]] = []
    for key, cond in (filter or {}).items():
        if isinstance(cond, Mapping) and cond and all(isinstance(k, str) and k.startswith("$") for k in cond):
            for op, operand in cond.items():
                if op == "$eq":
                    contains[key] = operand
                elif op == "$ne":
                    excludes.append({key: operand})
                else:
                    raise Unsupported(f"filter operator {op!r} is not supported (only equality, $eq and $ne)")
        else:
            contains[key] = cond
    return contains, excludes


async def put(
    conn: asyncpg.Connection,
    namespace: Sequence[str],
    key: str,
    value: Mapping[str, Any],
    *,
    ttl_minutes: float | None = None,
) -> None:
    ns = check_namespace(namespace, writing=True)
    if not isinstance(key, str) or not key:
        raise InvalidInput("Invalid key: it must be a non-empty string")
    if ttl_minutes is not None and ttl_minutes <= 0:
        raise InvalidInput(f"Invalid ttl {ttl_minutes!r}: it must be a positive number of minutes")
    await conn.execute(Q["put"], ns, key, dict(value), ttl_minutes)


async def get(conn: asyncpg.Connection, namespace: Sequence[str], key: str, *,
              refresh_ttl: bool = True) -> dict[str, Any] | None:
    """The item, or None when it is missing or expired. Reading refreshes its TTL unless told not to."""
    row = await conn.fetchrow(Q["get"], check_namespace(namespace), key, refresh_ttl)
    return _item(row) if row is not None else None


async def delete(conn: asyncpg.Connection, namespace: Sequence[str], key: str) -> None:
    await conn.execute(Q["delete"], check_namespace(namespace), key)


async def search(
    conn: asyncpg.Connection,
    namespace_prefix: Sequence[str],
    *,
    filter: Mapping[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    refresh_ttl: bool = True,
) -> list[dict[str, Any]]:
    """Items under the prefix whose value matches the filter, most recently updated first."""
    contains, excludes = _filter(filter)
    rows = await conn.fetch(
        Q["search"], check_namespace(namespace_prefix), contains, excludes, limit, offset, refresh_ttl
    )
    return [{**_item(r), "score": None} for r in rows]


async def list_namespaces(
    conn: asyncpg.Connection,
    *,
    prefix: Sequence[str] | None = None,
    suffix: Sequence[str] | None = None,
    max_depth: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[list[str]]:
    """Distinct namespaces (truncated to max_depth) matching prefix/suffix; `*` matches any label."""
    if max_depth is not None and max_depth < 1:
        raise InvalidInput(f"Invalid max_depth {max_depth}: it must be >= 1")
    rows = await conn.fetch(
        Q["list_namespaces"], check_namespace(prefix or []), check_namespace(suffix or []), max_depth, limit, offset
    )
    return [list(r["ns"]) for r in rows]


async def purge_expired(db: asyncpg.Pool | asyncpg.Connection) -> int:
    """Delete expired items; returns how many. Schedule it periodically."""
    status = await db.execute(Q["purge_expired"])
    return int(status.split()[-1])
