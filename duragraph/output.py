"""How the command-line client prints: rich tables and key/value records for people, JSON for scripts
(`--json`: the server's objects as they are, one document on stdout; events one JSON object per line).
Progress and hints go to stderr, so stdout stays parseable."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH = 60  # a cell longer than this is cut (the full value: --json)


def pick(obj: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def cell(value: Any, width: int = WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)  # a pipe or a file: no cramped columns


@dataclass
class Output:
    as_json: bool = False
    _progress_shown: bool = field(default=False, init=False)

    def _dump(self, obj: Any) -> None:
        print(json.dumps(obj, default=str, ensure_ascii=False, indent=None if not sys.stdout.isatty() else 2),
              flush=True)

    def table(self, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
        rows = list(rows)
        if self.as_json:
            self._dump(rows)
            return
        from rich.table import Table

        t = Table(box=None, header_style="bold")
        for c in columns:
            name = c.rsplit(".", 1)[-1]
            t.add_column(name, no_wrap=name.endswith("_id"))
        for row in rows:
            t.add_row(*[cell(pick(row, c)) for c in columns])
        console().print(t)
        if not rows:
            self.note("(none)")

    def record(self, obj: Mapping[str, Any], fields: Sequence[str] | None = None) -> None:
        if self.as_json:
            self._dump(obj)
            return
        from rich.table import Table

        t = Table(box=None, show_header=False)
        for name in fields or list(obj):
            value = pick(obj, name)
            t.add_row(f"[bold]{name.rsplit('.', 1)[-1]}[/bold]",
                      value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
        console().print(t)

    def event(self, name: str, data: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": name, "data": data}, default=str, ensure_ascii=False), flush=True)
        else:
            print(f"{name}: {json.dumps(data, default=str, ensure_ascii=False)}", flush=True)

    def progress(self, line: str) -> None:
        """One live line on a terminal (rewritten in place), one line per update otherwise."""
        if sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[2K{line}")
            self._progress_shown = True
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def progress_done(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._progress_shown = False

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)
