"""What a log line is about: the request, run, thread, task, node and worker in progress (contextvars,
so concurrent steps and requests in one process keep theirs apart). The process's log formatter
(duragraph/logs.py) adds the ones that are set to each line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

FIELDS = ("request_id", "run_id", "thread_id", "task", "node", "worker")
_VARS: dict[str, ContextVar[str | None]] = {name: ContextVar(f"duragraph_{name}", default=None) for name in FIELDS}


def current() -> dict[str, str]:
    """The fields set in this context."""
    return {name: value for name, var in _VARS.items() if (value := var.get()) is not None}


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Set fields (None leaves one unset) for the duration of the block."""
    tokens = [(_VARS[name], _VARS[name].set(str(value))) for name, value in fields.items() if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_request_id(request_id: str) -> None:
    """The request id of the current request (its task's context ends with the request)."""
    _VARS["request_id"].set(request_id)
