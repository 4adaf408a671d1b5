"""The dashboard at `/ui`: its static files (plain ES modules, vendored libraries with their licenses; no
build step) and the read endpoints under `/ui/api` that the public API has no call for.

The page and its files are served without credentials (they hold no data); every `/ui/api` call, and every
public API call the page makes, goes through the API's authentication like any other client's, with the
API key or bearer token the user entered once. Lists are paginated in SQL (engine.durable.dashboard).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, Router, get
from litestar.params import FromPath, FromQuery
from litestar.static_files import create_static_files_router

from api.app import AuthzDep, Conn, Graphs, SettingsDep
from api.schemas import parse_uuid
from engine.durable import dashboard
from engine.errors import InvalidInput

STATIC = Path(str(resources.files("api") / "ui"))
NO_AUTH = {"exclude_from_auth": True}
THREAD_STATUSES = ("idle", "busy", "interrupted", "error")
MAX_LIMIT = 200


def _limit(limit: int | None, offset: int | None) -> tuple[int, int]:
    limit = 50 if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= 2**63 - 1:
        raise InvalidInput("offset must be between 0 and 2**63-1")
    return limit, offset


def _status(value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise InvalidInput(f"Invalid status {value!r}: expected one of {', '.join(allowed)}")
    return value


def parse_query(q: str | None) -> tuple[dict[str, Any] | None, Any]:
    """The thread search box: a thread id, a JSON object (metadata containment) or `key=value` pairs
    separated by spaces (values read as JSON when they parse, as text otherwise)."""
    q = (q or "").strip()
    if not q:
        return None, None
    if q.startswith("{"):
        try:
            value = json.loads(q)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"Invalid metadata filter: {exc.msg}") from None
        if not isinstance(value, dict):
            raise InvalidInput("Invalid metadata filter: expected a JSON object")
        return value, None
    if "=" not in q:
        return None, parse_uuid(q)
    metadata: dict[str, Any] = {}
    for pair in q.split():
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"Invalid filter {pair!r}: expected key=value")
        try:
            metadata[key] = json.loads(raw)
        except json.JSONDecodeError:
            metadata[key] = raw
    return metadata, None


@get("/ui", media_type=MediaType.HTML, include_in_schema=False, opt=NO_AUTH, sync_to_thread=False)
def index() -> Response[bytes]:
    return Response((STATIC / "index.html").read_bytes(), media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-cache"})


@get("/ui/api/config", include_in_schema=False, opt=NO_AUTH, sync_to_thread=False)
def ui_config(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """How the page should authenticate: `open`, `api_keys` (x-api-key) or `custom` (the config's auth
    handler; the page sends what the user entered as `Authorization: Bearer ...`)."""
    return {"auth": request.app.state.security.mode}


@get("/ui/api/overview", include_in_schema=False)
async def overview(conn: Conn, authz: AuthzDep, settings: SettingsDep) -> dict[str, Any]:
    scope = await authz("threads", "search", {"metadata": {}})
    return await dashboard.overview(conn, stalled_after=settings.stalled_after_seconds, scope=scope)


@get("/ui/api/threads", include_in_schema=False)
async def threads_page(conn: Conn, authz: AuthzDep, status: FromQuery[str | None] = None,
                       q: FromQuery[str | None] = None, limit: FromQuery[int | None] = None,
                       offset: FromQuery[int | None] = None) -> dict[str, Any]:
    limit, offset = _limit(limit, offset)
    metadata, thread_id = parse_query(q)
    value: dict[str, Any] = {"metadata": dict(metadata or {}), "status": _status(status, THREAD_STATUSES),
                             "limit": limit, "offset": offset}
    scope = await authz("threads", "search", value)
    return await dashboard.threads_page(conn, status=value["status"], metadata=value["metadata"],
                                        thread_id=thread_id, limit=limit, offset=offset, scope=scope)


@get("/ui/api/runs", include_in_schema=False)
async def runs_page(conn: Conn, authz: AuthzDep, status: FromQuery[str | None] = None,
                    thread_id: FromQuery[str | None] = None, limit: FromQuery[int | None] = None,
                    offset: FromQuery[int | None] = None) -> dict[str, Any]:
    limit, offset = _limit(limit, offset)
    tid = parse_uuid(thread_id) if thread_id else None
    scope = await authz("threads", "search", {"metadata": {}, "thread_id": tid})
    return await dashboard.runs_page(conn, status=_status(status, dashboard.RUN_STATUSES), thread_id=tid,
                                     limit=limit, offset=offset, scope=scope)


@get("/ui/api/runs/{run_id:str}", include_in_schema=False)
async def run_detail(run_id: FromPath[str], conn: Conn, authz: AuthzDep, graphs: Graphs) -> dict[str, Any]:
    rid = parse_uuid(run_id, "run")
    scope = await authz("threads", "search", {"metadata": {}, "run_id": rid})
    return await dashboard.run_detail(conn, rid, scope=scope, graphs=graphs)


router = Router(
    path="/",
    route_handlers=[
        index, ui_config, overview, threads_page, runs_page, run_detail,
        create_static_files_router(path="/ui/static", directories=[STATIC], opt=NO_AUTH,
                                   include_in_schema=False, send_as_attachment=False),
    ],
    tags=["dashboard"],
)
