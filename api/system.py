"""Health and capability endpoints: `GET /ok` (liveness; `?check_db=1` also reaches Postgres),
`GET /ready` (readiness: Postgres answers and the NATS live feed is connected), `GET /info`."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Response, Router, get, head
from litestar.datastructures import State
from litestar.params import FromQuery

from api.models import Info

try:
    VERSION = version("duragraph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0.0.0"

FLAGS = {
    "assistants": True,
    "crons": True,
    "store": True,
    "langsmith": False,
    "langsmith_tracing_replicas": False,
}


READY_TIMEOUT = 2.0


async def _postgres(state: State) -> str:
    pool = getattr(state, "pool", None)
    if pool is None:
        return "starting"
    try:
        async with asyncio.timeout(READY_TIMEOUT), pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:  # a probe: whatever the driver raises (a cut session, a refused connection...)
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _nats(state: State) -> str:
    if not state.settings.nats_url:
        return "not configured"  # streams poll Postgres: nothing to wait for
    hub = getattr(state, "live", None)
    return "ok" if hub is not None and hub.connected else "unreachable"


@get("/ok", opt={"exclude_from_auth": True})
async def ok(state: State, check_db: FromQuery[str | None] = None) -> Response[Any]:
    if check_db in ("1", "true", "yes"):
        pg = await _postgres(state)
        if pg != "ok":
            return Response({"detail": f"Postgres {pg}", "code": "unavailable", "services": {"postgres": pg}},
                            status_code=503)
        return Response({"ok": True, "services": {"postgres": pg}})
    return Response({"ok": True, "services": {}})


@head("/ok", opt={"exclude_from_auth": True}, sync_to_thread=False)
def ok_head() -> None:
    """`HEAD /ok` (load balancers' and uptime checkers' probe): 200, no body."""


@get("/ready", opt={"exclude_from_auth": True})
async def ready(state: State) -> Response[Any]:
    """200 when this API can serve: Postgres answers and (with NATS configured) the live feed is up."""
    services = {"postgres": await _postgres(state), "nats": _nats(state)}
    down = [f"{name} {status}" for name, status in services.items() if status not in ("ok", "not configured")]
    if down:
        return Response({"detail": "not ready: " + ", ".join(down), "code": "unavailable", "services": services},
                        status_code=503)
    return Response({"ok": True, "services": services})


@get("/info", sync_to_thread=False)
def info() -> Info:
    return {"version": VERSION, "flags": dict(FLAGS), "host": {"kind": "self-hosted", "project_id": None}}


router = Router(path="/", route_handlers=[ok, ok_head, ready, info], tags=["system"])
