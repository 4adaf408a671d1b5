"""Authentication and authorization the way LangGraph Platform does them.

Three modes, chosen once at start (`Security`):
- custom auth: a `langgraph_sdk.Auth` object named by `"auth": {"path": "./auth.py:auth"}` in the config.
  Its `@auth.authenticate` handler runs on every request (except the health, metrics and docs routes)
  with the parameters it names injected (`request`, `path`, `method`, `path_params`, `query_params`,
  `headers`, `authorization`); `Auth.exceptions.HTTPException` answers its status. Its `@auth.on...`
  handlers run per resource and action; a filter they return becomes the request's *scope*, which the
  engine enforces in SQL (engine.durable.access).
- API keys (`DURAGRAPH_API_KEYS`): `x-api-key` must be one of them.
- open: neither; the process warns once at start.

A router asks for authorization through the `authz: Authz` dependency:
`scope = await authz("threads", "read", {"thread_id": tid})`.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from langgraph_sdk import Auth
from langgraph_sdk.auth import exceptions as auth_exceptions
from langgraph_sdk.auth.types import AuthContext
from litestar.connection import ASGIConnection, Request
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from engine.durable import access

log = logging.getLogger("duragraph.api.auth")

# what an authenticate handler may take, by name (langgraph_sdk's Auth.authenticate documents these)
AUTHENTICATE_PARAMS = frozenset({"request", "path", "method", "path_params", "query_params", "headers",
                                 "authorization"})
# routes that answer without credentials (as on LangGraph Platform: health, server info and docs)
OPEN_PATHS = ["^/ok$", "^/ready$", "^/info$", "^/metrics$", "^/docs", "^/openapi.json$"]


class AuthUser:
    """The authenticated user (langgraph_sdk's BaseUser protocol): attributes and dict access."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        if not isinstance(fields.get("identity"), str) or not fields["identity"]:
            raise ValueError("the user must have a non-empty string `identity`")
        self._fields = {"display_name": fields["identity"], "is_authenticated": True, "permissions": [],
                        **fields}
        self._fields["permissions"] = list(self._fields["permissions"] or [])

    @property
    def identity(self) -> str:
        return str(self._fields["identity"])

    @property
    def display_name(self) -> str:
        return str(self._fields["display_name"])

    @property
    def is_authenticated(self) -> bool:
        return bool(self._fields["is_authenticated"])

    @property
    def permissions(self) -> Sequence[str]:
        return list(self._fields["permissions"])

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_fields"][key]
        except KeyError:
            raise AttributeError(key) from None

    def dict(self) -> dict[str, Any]:
        """The JSON form nodes receive in `config["configurable"]["langgraph_auth_user"]`."""
        return dict(self._fields)


def to_user(result: Any) -> AuthUser:
    """What an authenticate handler returned (a user id, a MinimalUserDict, or a user object) as a user."""
    if isinstance(result, AuthUser):
        return result
    if isinstance(result, str):
        return AuthUser({"identity": result})
    if isinstance(result, Mapping):
        return AuthUser(dict(result))
    identity = getattr(result, "identity", None)
    if isinstance(identity, str):
        fields = {"identity": identity}
        for name in ("display_name", "is_authenticated", "permissions"):
            if hasattr(result, name):
                fields[name] = getattr(result, name)
        return AuthUser(fields)
    raise ValueError(f"the authenticate handler returned {type(result).__name__}; expected a user id, "
                     "a dict with 'identity', or an object with an `identity` attribute")


def filters_to_scope(filters: Mapping[str, Any]) -> dict[str, Any]:
    """An auth filter as one jsonb containment: `{k: v}` and `{k: {"$eq": v}}` match metadata[k] == v,
    `{k: {"$contains": v}}` matches a list metadata[k] holding v (or every item of a list v)."""
    scope: dict[str, Any] = {}
    for key, cond in filters.items():
        if isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond):
            if set(cond) == {"$eq"}:
                scope[key] = cond["$eq"]
            elif set(cond) == {"$contains"}:
                item = cond["$contains"]
                scope[key] = list(item) if isinstance(item, list | tuple) else [item]
            else:
                raise ValueError(f"auth filter on {key!r}: unsupported operator(s) {sorted(cond)}; "
                                 "use a value, {'$eq': v} or {'$contains': v}")
        else:
            scope[key] = cond
    return scope


def _merge(scope: dict[str, Any] | None, more: dict[str, Any]) -> dict[str, Any]:
    return {**(scope or {}), **more}


class CustomAuth:
    """A `langgraph_sdk.Auth`: authenticate requests, authorize actions on resources."""

    def __init__(self, auth: Auth) -> None:
        if not isinstance(auth, Auth):
            raise TypeError(f"auth must be a langgraph_sdk.Auth, got {type(auth).__name__}")
        self.auth = auth
        handler = auth._authenticate_handler
        self._params: list[str] = []
        if handler is not None:
            params = list(inspect.signature(handler).parameters)
            unknown = [p for p in params if p not in AUTHENTICATE_PARAMS]
            if unknown:
                raise ValueError(f"authenticate handler {getattr(handler, '__name__', handler)!r} takes unknown "
                                 f"parameter(s) {unknown}; it may take any of {sorted(AUTHENTICATE_PARAMS)}")
            self._params = params

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser:
        handler = self.auth._authenticate_handler
        if handler is None:  # authorization handlers only: every caller is the same anonymous user
            return AuthUser({"identity": "anonymous", "is_authenticated": False})
        available: dict[str, Callable[[], Any]] = {
            "request": lambda: Request(connection.scope, connection.receive),
            "path": lambda: connection.url.path,
            "method": lambda: connection.scope.get("method", "GET"),
            "path_params": lambda: {k: str(v) for k, v in connection.path_params.items()},
            "query_params": lambda: dict(connection.query_params.items()),
            "headers": lambda: dict(connection.scope["headers"]),
            "authorization": lambda: connection.headers.get("authorization"),
        }
        try:
            result: Any = handler(**{p: available[p]() for p in self._params})
            if inspect.isawaitable(result):
                result = await result
        except auth_exceptions.HTTPException as exc:
            raise HTTPException(status_code=exc.status_code, detail=exc.detail,
                                headers=dict(exc.headers or {})) from None
        return to_user(result)

    def _handlers(self, resource: str, action: str) -> list[Callable[..., Awaitable[Any]]]:
        """The most specific handlers: (resource, action), (resource, *), (*, action), then global."""
        table = self.auth._handlers
        for key in ((resource, action), (resource, "*"), ("*", action)):
            if key in table:
                return list(table[key])
        return list(self.auth._global_handlers)

    async def authorize(self, user: AuthUser, resource: str, action: str, value: dict[str, Any]
                        ) -> dict[str, Any] | None:
        """Run the handlers for (resource, action) on `value` (which they may change in place); the
        scope their filters make, None for no restriction. False from a handler is 403."""
        scope: dict[str, Any] | None = None
        ctx = AuthContext(permissions=user.permissions, user=user, resource=resource,  # type: ignore[arg-type]
                          action=action)  # type: ignore[arg-type]
        for handler in self._handlers(resource, action):
            try:
                result = await handler(ctx=ctx, value=value)
            except auth_exceptions.HTTPException as exc:
                raise HTTPException(status_code=exc.status_code, detail=exc.detail,
                                    headers=dict(exc.headers or {})) from None
            if result is None or result is True:
                continue
            if result is False:
                raise PermissionDeniedException("Forbidden")
            if isinstance(result, Mapping):
                if resource == "store":
                    raise ValueError("store handlers cannot return filters: change value['namespace'] instead")
                scope = _merge(scope, filters_to_scope(result))
                continue
            raise ValueError(f"auth handler for {resource}.{action} returned {type(result).__name__}; "
                             "expected None, a bool or a filter dict")
        return scope


@dataclass(frozen=True)
class Security:
    """How this API authenticates: custom auth, API keys, or open."""

    custom: CustomAuth | None = None
    api_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def mode(self) -> str:
        return "custom" if self.custom else "api_keys" if self.api_keys else "open"

    def warn_if_open(self) -> None:
        if self.mode == "open":
            log.warning("the API is OPEN: no authentication is configured. Anyone who can reach the port can read "
                        "and run every thread. Set DURAGRAPH_API_KEYS or an \"auth\" handler in the config.")

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthUser | None:
        if self.custom is not None:
            return await self.custom.authenticate(connection)
        if self.api_keys:
            given = connection.headers.get("x-api-key")
            if not given:
                raise NotAuthorizedException("Missing x-api-key header")
            if not any(hmac.compare_digest(given.encode(), key.encode()) for key in self.api_keys):
                raise PermissionDeniedException("Invalid API key")
            return AuthUser({"identity": "api-key", "permissions": []})
        return None

    def middleware(self) -> DefineMiddleware | None:
        if self.mode == "open":
            return None
        return DefineMiddleware(AuthMiddleware, security=self, exclude=OPEN_PATHS)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, security: Security, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.security = security

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        return AuthenticationResult(user=await self.security.authenticate(connection), auth=self.security.mode)


class Authz:
    """Authorization for one request: `await authz(resource, action, value)` -> the scope (None: all).
    `thread` / `assistant` also check that the addressed row is in scope (404 when not), on a
    pooled connection taken only when there is a scope to check."""

    def __init__(self, security: Security, user: AuthUser | None, pool: asyncpg.Pool | None) -> None:
        self.security = security
        self.user = user
        self.pool = pool

    @property
    def enabled(self) -> bool:
        return self.security.custom is not None and self.user is not None

    async def __call__(self, resource: str, action: str, value: dict[str, Any]) -> dict[str, Any] | None:
        if self.security.custom is None or self.user is None:
            return None
        return await self.security.custom.authorize(self.user, resource, action, value)

    async def _check(self, check: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await check(conn)

    async def thread(self, action: str, thread_id: UUID, /, **value: Any) -> dict[str, Any] | None:
        scope = await self("threads", action, {"thread_id": thread_id, **value})
        if scope is not None:
            await self._check(lambda conn: access.require_thread(conn, thread_id, scope))
        return scope

    async def assistant(self, action: str, assistant_id: UUID, /, **value: Any) -> dict[str, Any] | None:
        scope = await self("assistants", action, {"assistant_id": assistant_id, **value})
        if scope is not None:
            await self._check(lambda conn: access.require_assistant(conn, assistant_id, scope))
        return scope

    def user_config(self) -> dict[str, Any]:
        """What a run's nodes receive in config["configurable"] about the caller (as the official server)."""
        if self.security.custom is None or self.user is None:
            return {}
        return {"langgraph_auth_user": self.user.dict(), "langgraph_auth_user_id": self.user.identity,
                "langgraph_auth_permissions": list(self.user.permissions)}


async def provide_authz(request: Request[Any, Any, Any]) -> Authz:
    security: Security = request.app.state.security
    user = request.scope.get("user")
    return Authz(security, user if isinstance(user, AuthUser) else None, getattr(request.app.state, "pool", None))
