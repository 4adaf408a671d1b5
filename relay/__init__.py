"""Outbox -> NATS JetStream relay. Stands alone: its only contract with the engine is the outbox table (and the
`events` rows its rows refer to)."""

from relay.config import RelayConfig
from relay.relay import Relay, RelayStats, run_relay
from relay.stream import ensure_stream, stream_config

__all__ = ["Relay", "RelayConfig", "RelayStats", "ensure_stream", "run_relay", "stream_config"]
