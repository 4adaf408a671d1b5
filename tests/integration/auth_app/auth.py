"""A LangGraph custom auth, written as the LangGraph docs show: bearer tokens name the user; every
resource is stamped with its owner and filtered by it; the store is scoped by a namespace prefix."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

TOKENS = {"alice-token": "alice", "bob-token": "bob"}

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None, path: str, method: str) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing bearer token")
    return {"identity": TOKENS[token], "permissions": ["threads:write"], "display_name": TOKENS[token].title()}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Auth.types.FilterType:
    if isinstance(value.get("metadata"), dict):
        value["metadata"]["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.threads.delete
async def no_deletes_for_bob(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | bool:
    if ctx.user.identity == "bob":
        return False
    return {"owner": {"$eq": ctx.user.identity}}


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["namespace"] = (ctx.user.identity, *(value.get("namespace") or ()))
