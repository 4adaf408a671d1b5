"""The relay's Prometheus metrics (prometheus_client's process registry; `duragraph relay
--metrics-port` serves it). No run or thread ids in labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PUBLISHED = Counter("duragraph_relay_published", "Outbox rows published to JetStream and acknowledged")
PUBLISH_FAILURES = Counter("duragraph_relay_publish_failures", "Batches that could not be fully published")
SKIPPED = Counter("duragraph_relay_skipped", "Outbox rows deleted unpublished: their event no longer existed")
PUBLISH_LAG = Histogram("duragraph_relay_publish_lag_seconds",
                        "Time from an event's commit to its JetStream acknowledgement",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
OUTBOX_BACKLOG = Gauge("duragraph_outbox_backlog", "Unpublished outbox rows, as of the relay's last fetch")
ACTIVE = Gauge("duragraph_relay_active", "1 while this relay holds the lock and publishes, else 0")
