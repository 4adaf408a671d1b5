"""The JetStream stream the relay publishes into: created when missing, updated when its limits drift.

One stream captures every subject under `<prefix>.>` (events go to `<prefix>.events.<thread>.<run>`), on
file storage so it survives a NATS restart. It is a bounded live-update mirror, not the source of truth
(Postgres is): old messages age out (`max_age`) or are discarded oldest-first past `max_bytes`.

`duplicate_window` is what makes delivery exactly-once as seen by consumers. Every message carries
`Nats-Msg-Id: <event_id>`, and JetStream drops a message whose id it already stored within the window.
The relay publishes, awaits the acks, then deletes the rows; if it dies (or loses its
Postgres connection) in between, the next active relay publishes the same rows again a few seconds
later and JetStream discards them as duplicates. The window must therefore exceed the longest gap
between a publish and its republish: takeover latency plus any Postgres outage during which no relay
can delete or fetch. Ten minutes leaves a wide margin over the seconds a takeover takes.
"""

from __future__ import annotations

import logging
from typing import Any

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError, NotFoundError

from relay.config import RelayConfig

log = logging.getLogger("duragraph.relay")

STREAM_NAME_IN_USE = 10058  # JetStream API error code: a concurrent creator won the race


def stream_config(config: RelayConfig) -> StreamConfig:
    return StreamConfig(
        name=config.stream,
        description="DuraGraph run events, mirrored from the Postgres outbox",
        subjects=config.subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=config.stream_max_age,
        max_bytes=config.stream_max_bytes,
        duplicate_window=config.duplicate_window,
        num_replicas=config.stream_replicas,
    )


def _drift(have: StreamConfig, want: StreamConfig) -> list[str]:
    fields = ("subjects", "max_age", "max_bytes", "duplicate_window", "discard", "num_replicas", "storage")
    return [f for f in fields if getattr(have, f) != getattr(want, f)]


async def ensure_stream(js: Any, config: RelayConfig) -> StreamInfo:
    """Create the stream, or bring an existing one's subjects and limits to `config`."""
    want = stream_config(config)
    try:
        info: StreamInfo = await js.stream_info(config.stream)
    except NotFoundError:
        try:
            created: StreamInfo = await js.add_stream(want)
            log.info("created JetStream stream %s on %s", config.stream, want.subjects)
            return created
        except BadRequestError as e:
            if e.err_code != STREAM_NAME_IN_USE:
                raise
            info = await js.stream_info(config.stream)
    changed = _drift(info.config, want)
    if not changed:
        return info
    if "storage" in changed:
        raise RuntimeError(f"stream {config.stream} uses {info.config.storage} storage; want {want.storage}")
    updated: StreamInfo = await js.update_stream(want)
    log.info("updated JetStream stream %s: %s", config.stream, ", ".join(changed))
    return updated
