"""Errors of the durable service layer, with stable codes the API maps to HTTP statuses.

The pure core has its own graph/run errors (engine.core.errors); both trees share `code`.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base for errors a client can cause; `code` is stable and machine-readable."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class InvalidInput(ServiceError):
    code = "invalid_input"


class Unsupported(ServiceError):
    """A field or feature the LangGraph Platform API has and DuraGraph does not support (yet)."""

    code = "unsupported"


class Unavailable(ServiceError):
    """A backing service (Postgres) cannot be reached."""

    code = "unavailable"
