"""The one error type the command line prints as a single `duragraph: error: ...` line (exit code 2)."""

from __future__ import annotations

import sys
import traceback


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def user_code_location(exc: BaseException) -> str | None:
    """`file:line` of the innermost frame of `exc` (or its cause) that is the user's code: not the Python
    library, not an installed package, not importlib's frozen bootstrap."""
    for err in (exc.__cause__, exc):
        if err is None:
            continue
        if isinstance(err, SyntaxError) and err.filename and err.lineno:
            return f"{err.filename}:{err.lineno}"
        libs = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if not f.filename.startswith("<") and not f.filename.startswith(libs)
                  and "site-packages" not in f.filename]
        frames = [f for f in frames if "/duragraph/" not in f.filename and "/engine/" not in f.filename]
        if frames:
            return f"{frames[-1].filename}:{frames[-1].lineno}"
    return None
