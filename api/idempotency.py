"""The `Idempotency-Key` request header of the POSTs that create something (runs, stateless runs, wait,
stream, batch, threads, crons, assistants).

A handler declares `idempotency_key: IdemKey` and passes it to the engine, which stores the key in the
transaction that creates the resource (engine/durable/idempotency.py). A repeat with the same key and
the same request (method, path and JSON body, compared after sorting the body's keys) within the
retention window (`DURAGRAPH_IDEMPOTENCY_RETENTION`, default 24 h) gets the resource the first one
created, and creates nothing; the same key with another request is 422. With authentication on, keys
are per user.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from litestar import Request
from litestar.di import NamedDependency

from api.auth import AuthUser
from duragraph.settings import Settings
from engine.durable.idempotency import IdempotencyKey

HEADER = "Idempotency-Key"
IdemKey = NamedDependency[IdempotencyKey | None]


async def provide_idempotency_key(request: Request[Any, Any, Any]) -> IdempotencyKey | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    # checked (1 to 255 characters) where it is used, by the engine: a dependency that raises here would
    # leave the request's pooled connection (another dependency) unreleased
    body = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body.strip() else b""
    except orjson.JSONDecodeError:
        canonical = body  # the route itself answers the malformed body
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + canonical).hexdigest()
    user = request.scope.get("user")
    owner = user.identity if isinstance(user, AuthUser) else ""  # one user's keys never meet another's resources
    settings: Settings = request.app.state.settings
    return IdempotencyKey(raw.strip(), digest, settings.idempotency_retention_seconds, owner=owner)
