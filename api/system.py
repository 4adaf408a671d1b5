"""Health and capability endpoints: `GET /ok`, `GET /info`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Router, get

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


@get("/ok", sync_to_thread=False)
def ok() -> dict[str, Any]:
    return {"ok": True, "services": {}}


@get("/info", sync_to_thread=False)
def info() -> dict[str, Any]:
    return {"version": VERSION, "flags": dict(FLAGS), "host": {"kind": "self-hosted", "project_id": None}}


router = Router(path="/", route_handlers=[ok, info], tags=["system"])
