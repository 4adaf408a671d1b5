"""Errors of the durable service layer, with stable codes the API maps to HTTP statuses.

Service errors extend the pure core's EngineError (engine.core.errors): ONE tree, one `code` each.
"""

from __future__ import annotations

from engine.core.errors import EngineError


class ServiceError(EngineError):
    """Base for errors a client can cause in the service layer; part of the one EngineError tree."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)

    @property
    def detail(self) -> str:
        return self.message


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class InvalidInput(ServiceError):
    code = "invalid_input"


class BadRequest(InvalidInput):
    """A request refused outright (HTTP 400), e.g. an empty update, or a resume without a thread."""

    code = "bad_request"


class Unsupported(ServiceError):
    """A field or feature the LangGraph Platform API has and DuraGraph does not support (yet)."""

    code = "unsupported"


class Unavailable(ServiceError):
    """A backing service (Postgres) cannot be reached."""

    code = "unavailable"


class TooLarge(ServiceError):
    """A request body, an input, a state or a store value over its limit (HTTP 413)."""

    code = "payload_too_large"


class StateTooLarge(TooLarge):
    code = "state_too_large"


class TooMany(ServiceError):
    """A count limit reached: runs pending on a thread, streams of a client (HTTP 429)."""

    code = "too_many_requests"
