"""Process logging: `text` (human) or `json` (one object per line, python-json-logger) with the
request / run / thread / task / node / worker the line is about (engine.durable.logcontext)."""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from engine.durable import logcontext

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    """Copies the fields of the current log context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in logcontext.current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_default=str)


def configure_logging(fmt: str, level: int) -> None:
    """Configure the root logger once, for the whole process."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: expected one of {list(FORMATS)}")
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "duragraph", False):  # ours from an earlier call; others' (e.g. pytest's) stay
            root.removeHandler(old)
    handler.duragraph = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context fields a record carries (for tests and custom handlers)."""
    return {k: getattr(record, k) for k in logcontext.FIELDS if hasattr(record, k)}
