"""SQL is source code: numbered forward-only migrations and named queries, loaded once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """All migrations in `sql/migrations`, ordered by their number (`0001_init.sql`)."""
    found = []
    for entry in (resources.files(__name__) / "migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in sql/migrations: {versions}")
    return tuple(found)


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: xyz` blocks into {name: sql}."""
    parts = _NAME.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in out:
            raise RuntimeError(f"query {name!r} is defined twice")
        lines = body.strip().splitlines()
        while lines and lines[0].lstrip().startswith("--"):  # the query's comment is for readers, not the server
            lines.pop(0)
        out[name] = "\n".join(lines).strip().rstrip(";")
    return out


@cache
def queries(filename: str = "queries.sql") -> dict[str, str]:
    """Named queries of one `.sql` file in this package."""
    return parse_queries((resources.files(__name__) / filename).read_text("utf-8"))


def query_files() -> tuple[str, ...]:
    """Every named-query file in this package (one per module that owns SQL, e.g. `threads.sql`)."""
    return tuple(sorted(e.name for e in resources.files(__name__).iterdir() if e.name.endswith(".sql")))
