"""One error tree with stable codes; interrupts and cancellation are BaseExceptions.

`EngineError.code` is the contract with the API (code -> HTTP status table). `Cancelled` is a
BaseException so user code that does `except Exception` cannot swallow it (LangGraph's own interrupts
are `GraphBubbleUp` exceptions and are handled by LangGraph).
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose. `code` is stable and machine-readable."""

    code: str = "engine_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def to_json(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "message": self.message, "code": self.code}


class InvalidGraphError(EngineError, ValueError):
    """The graph definition is wrong (unknown node, reserved name, no entry point, bad reducer...)."""

    code = "invalid_graph"


class InvalidUpdateError(EngineError):
    """A node produced writes that cannot be applied (concurrent LastValue writes, bad return...)."""

    code = "invalid_update"


class RecursionLimitError(EngineError):
    """The run took more supersteps than `recursion_limit` (LangGraph's GraphRecursionError)."""

    code = "recursion_limit"


class NodeError(EngineError):
    """A node failed (after the durable layer's retries)."""

    code = "node_error"


class NodeTimeoutError(EngineError):
    """A node attempt exceeded its timeout."""

    code = "node_timeout"


class InvalidInputError(EngineError):
    """The run input or Command cannot be applied to this thread."""

    code = "invalid_input"


class InvalidResumeError(EngineError):
    """A Command(resume=...) does not match the pending interrupts."""

    code = "invalid_resume"


class Cancelled(BaseException):
    """The run was cancelled by a client; never swallowed by user `except Exception`."""


def error_json(exc: BaseException) -> dict[str, Any]:
    """The `{"type", "message"}` (+ `code` for engine errors) form stored in outcomes and decisions."""
    if isinstance(exc, EngineError):
        return exc.to_json()
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    code = LANGGRAPH_CODES.get(type(exc).__name__)
    if code is not None and type(exc).__module__.startswith("langgraph"):
        out["code"] = code
    return out


# LangGraph's own errors, by class name -> the engine's stable codes
LANGGRAPH_CODES = {
    "NodeTimeoutError": "node_timeout",
    "GraphRecursionError": "recursion_limit",
    "InvalidUpdateError": "invalid_update",
    "EmptyInputError": "invalid_input",
}
