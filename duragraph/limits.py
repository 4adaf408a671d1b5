"""Named limits on what one client can make the server hold: the values, and the errors they raise.

One frozen `Limits` per process (a field of Settings), built from the environment at the entry points;
duragraph/settings.py names the variables. The API refuses oversize requests before doing any work
(api/guard.py, api/stream_slots.py); the durable layer is handed the state and pending-run limits and
measures state on its stored (serialized) form, in one place (engine/durable/sizes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # request bodies, by route family: runs / threads / crons (they carry inputs and state), the store, the rest
    run_body_bytes: int = 32 * MIB
    store_body_bytes: int = 2 * MIB
    other_body_bytes: int = 1 * MIB
    json_depth: int = 100
    # a run's input, a state update, and every checkpoint or node result the durable layer stores
    state_bytes: int = 16 * MIB
    store_value_bytes: int = 1 * MIB
    page_size: int = 1000
    # runs pending on one thread (queued behind the one running), beyond which new runs are refused
    pending_runs_per_thread: int = 100
    streams_per_client: int = 100
    streams_total: int = 10_000
    # a request whose body has not fully arrived this long after its headers is answered 408
    body_timeout_seconds: float = 30.0
    # uvicorn: an idle keep-alive connection is closed after this; a request head larger than this is refused
    keepalive_seconds: float = 5.0
    header_bytes: int = 16 * 1024

