"""The relay's one frozen configuration object, built by the entry point (`duragraph relay`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# session-level advisory lock held by the one active relay: b"dg-relay" as a signed 64-bit integer
DEFAULT_LOCK_KEY = int.from_bytes(b"dg-relay", "big", signed=True)

_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class RelayConfig:
    database_url: str
    nats_url: str
    # JetStream stream capturing `<subject_prefix>.>`; the engine publishes on
    # `<subject_prefix>.events.<thread_id>.<run_id>` (from the outbox row's prefix, thread and run)
    stream: str = "DURAGRAPH"
    subject_prefix: str = "duragraph"

    # work loop: rows per fetch/publish/delete cycle; a sweep runs this often even without a NOTIFY
    batch_size: int = 500
    sweep_interval: float = 1.0
    # standbys retry the advisory lock this often (takeover latency after the active relay dies)
    standby_interval: float = 0.5
    lock_key: int = DEFAULT_LOCK_KEY

    # NATS: every publish waits at most this long for its JetStream ack; failures back off exponentially
    publish_timeout: float = 5.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0

    # a published row is deleted at once; rows a relay of the previous version marked published instead
    # are deleted this often, at most `cleanup_batch` rows per statement
    cleanup_interval: float = 60.0
    cleanup_batch: int = 5000

    # stream limits (see relay/stream.py for why the duplicate window matters)
    stream_max_age: float = 7 * 24 * 3600.0
    stream_max_bytes: int = 1 << 30
    duplicate_window: float = 600.0
    stream_replicas: int = 1

    # Postgres: statement timeout on the client side, and server-side TCP keepalives so the server
    # notices a vanished relay (and releases its lock) even without a clean TCP close
    command_timeout: float = 30.0
    tcp_keepalives_idle: int = 10

    def __post_init__(self) -> None:
        if not self.database_url or not self.nats_url:
            raise ValueError("RelayConfig needs database_url and nats_url")
        if not _STREAM_NAME.match(self.stream):
            raise ValueError(f"invalid JetStream stream name {self.stream!r}")
        if not _SUBJECT_TOKEN.match(self.subject_prefix):
            raise ValueError(f"invalid subject prefix {self.subject_prefix!r}")
        if self.batch_size < 1 or self.cleanup_batch < 1:
            raise ValueError("batch_size and cleanup_batch must be positive")
        positive = ("sweep_interval", "standby_interval", "publish_timeout", "backoff_initial", "backoff_max",
                    "cleanup_interval", "duplicate_window", "stream_max_age", "command_timeout")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.duplicate_window > self.stream_max_age:
            raise ValueError("duplicate_window cannot exceed stream_max_age")

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]
