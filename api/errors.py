"""One table from error code to HTTP status, and the handlers that answer `{"detail", "code"}`.

Every error a client can see goes through here; a traceback never leaves the server.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.types import ExceptionHandlersMap

from engine.core.errors import EngineError
from engine.durable.outage import is_transient, outcome_unknown
from engine.errors import ServiceError

log = logging.getLogger("duragraph.api")
# an internal response header: "this answer is a transient database failure" (api/retry.py runs the
# route again instead of sending it, and strips the header from the last attempt's answer). Its value:
# SAFE when nothing of the failed attempt committed, UNKNOWN when the connection was lost while a commit
# was in flight (run again only under an Idempotency-Key, which makes a repeat return what was done)
TRANSIENT_MARK = "x-duragraph-transient"
SAFE, UNKNOWN = "safe", "unknown"

STATUS_BY_CODE: dict[str, int] = {
    # engine.errors (durable service layer)
    "not_found": 404,
    "conflict": 409,
    "invalid_input": 422,
    "bad_request": 400,
    "unsupported": 501,
    "unavailable": 503,
    # engine.core.errors (pure core)
    "invalid_graph": 422,
    "invalid_update": 422,
    "invalid_resume": 400,
    "recursion_limit": 422,
    "node_error": 500,
    "node_timeout": 504,
    "engine_error": 500,
    # HTTP layer
    "validation_error": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "state_too_large": 413,
    "nesting_too_deep": 422,
    "request_timeout": 408,
    "unsupported_media_type": 415,
    "too_many_requests": 429,
    "internal": 500,
}
CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "too_many_requests", 503: "unavailable",
}



def transient(exc: BaseException) -> bool:
    """A failure worth running the route again for: a database outage or a transaction conflict
    (engine/durable/outage.py), or a run row that run creation would not wait for (FOR UPDATE NOWAIT,
    engine/durable/runs.py); a task group's exception group when all it holds is such."""
    if isinstance(exc, BaseExceptionGroup):
        return all(transient(e) for e in exc.exceptions)
    return is_transient(exc) or isinstance(exc, asyncpg.LockNotAvailableError)


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 500)


def error_response(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        {"detail": detail, "code": code}, status_code=status, media_type=MediaType.JSON, headers=headers
    )


def _service_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ServiceError)
    return error_response(status_for(exc.code), exc.detail, exc.code)


def _engine_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, EngineError)
    return error_response(status_for(exc.code), exc.message, exc.code)


def _validation_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ValidationException)
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            where = item.get("key")
            if where == "data" and item.get("message") == "'data'":  # Litestar's words for a missing body
                problems.append("the request body is required (a JSON object)")
                continue
            problems.append(f"{where}: {item.get('message')}" if where else str(item.get("message")))
    detail = str(exc.detail) + (": " + "; ".join(problems) if problems else "")
    return error_response(422, detail, "validation_error")


def _not_found(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, NotFoundException)
    return error_response(404, str(exc.detail) or "Not Found", "not_found")


def _http_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status >= 500:
        log.error("HTTP %s: %s", status, exc.detail, exc_info=exc)
        return error_response(status, "Internal Server Error" if status == 500 else str(exc.detail),
                              CODE_BY_STATUS.get(status, "internal"))
    return error_response(status, str(exc.detail), CODE_BY_STATUS.get(status, "bad_request"), exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # driver errors are the client's fault when the data was bad, the backend's when it is unreachable
    if isinstance(exc, asyncpg.UntranslatableCharacterError | asyncpg.CharacterNotInRepertoireError):
        return error_response(422, "Invalid input: text may not contain NUL (\\u0000) characters",
                              "invalid_input")
    if isinstance(exc, asyncpg.NumericValueOutOfRangeError):
        return error_response(422, "Invalid input: a number is out of range", "invalid_input")
    if isinstance(exc, asyncpg.DataError):
        return error_response(422, f"Invalid input: {exc}", "invalid_input")
    if transient(exc):
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        if outcome_unknown(exc):
            return error_response(
                503, "Database connection lost while the change was being committed: whether it took effect "
                "is unknown. Check before trying again, or send an Idempotency-Key header, with which the "
                "server retries safely", "unavailable", {TRANSIENT_MARK: UNKNOWN})
        return error_response(503, "Database unavailable, try again", "unavailable", {TRANSIENT_MARK: SAFE})
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, exc)
        return error_response(503, "Database unavailable", "unavailable")
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal Server Error", "internal")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        ServiceError: _service_error,
        EngineError: _engine_error,
        ValidationException: _validation_error,
        NotFoundException: _not_found,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
