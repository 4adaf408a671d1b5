"""Test-only fault points. With `DURAGRAPH_TEST_FAULT=<name>` in its environment, the API process
SIGKILLs itself when it reaches the point `<name>`: how the acceptance tests make it die between a
commit and its response (tests/acceptance/test_idempotent_create.py). Unset (always, in production),
a fault point does nothing.

Points: `after_run_commit` (a run creation committed, its response not sent yet).
"""

from __future__ import annotations

import os
import signal

from litestar.datastructures import State


def fault_point(state: State, name: str) -> None:
    if state.settings.test_fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
