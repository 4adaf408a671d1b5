"""One frozen settings object per process, read from the environment only at entry points."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from duragraph.limits import Limits


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    nats_url: str = ""
    # JetStream stream and subject prefix: events are published on `<prefix>.events.<thread_id>.<run_id>`
    nats_stream: str = "DURAGRAPH"
    subject_prefix: str = "duragraph"
    config_path: Path = Path("duragraph.json")
    host: str = "127.0.0.1"
    port: int = 8123
    worker_concurrency: int = 10
    # crash recovery: a worker whose heartbeat is older than this is dead; its steps are re-queued
    stalled_after_seconds: float = 15.0
    reaper_interval_seconds: float = 2.0
    # a run still running this long after it started ends `timeout` (LangGraph's BG_JOB_TIMEOUT_SECS); None: never
    run_timeout_seconds: float | None = None
    # on Ctrl-C / SIGTERM a worker lets the steps it runs finish (and commit) for up to this long
    shutdown_grace_seconds: float = 30.0
    # how long an open SSE stream waits for an unreachable database before it ends with an `error` frame
    stream_outage_seconds: float = 60.0
    # how long an `Idempotency-Key` is remembered (api/idempotency.py)
    idempotency_retention_seconds: float = 24 * 3600.0
    # how long a finished procrastinate job (and its events) is kept (engine/durable/retention.py)
    job_retention_seconds: float = 7 * 24 * 3600.0
    # tests only: the API process kills itself at this fault point (api/faults.py)
    test_fault: str = ""
    data_dir: Path = Path(".duragraph")
    # access: without an "auth" handler in the config, these keys (any one) are required in `x-api-key`
    api_keys: tuple[str, ...] = ()
    # browser origins allowed by CORS (`*` for any); empty: no CORS headers
    cors_origins: tuple[str, ...] = ()
    # telemetry: `text` or `json` log lines; a port for /metrics on processes without HTTP (worker, relay)
    log_format: str = "text"
    metrics_port: int | None = None
    # the config's "http": {"disable_mcp": true, "disable_a2a": true} (langgraph.json's spelling)
    disable_mcp: bool = False
    disable_a2a: bool = False
    # what one client can make the server hold (README "Production" lists the variables)
    limits: Limits = field(default_factory=Limits)

    def with_endpoints(self, database_url: str, nats_url: str) -> Settings:
        return replace(self, database_url=database_url, nats_url=nats_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            nats_url=env.get("NATS_URL", ""),
            nats_stream=env.get("DURAGRAPH_NATS_STREAM", d.nats_stream),
            subject_prefix=env.get("DURAGRAPH_SUBJECT_PREFIX", d.subject_prefix),
            config_path=Path(env["DURAGRAPH_CONFIG"]) if env.get("DURAGRAPH_CONFIG") else default_config_path(),
            host=env.get("DURAGRAPH_HOST", d.host),
            port=int(env.get("PORT", env.get("DURAGRAPH_PORT", str(d.port)))),
            worker_concurrency=int(env.get("DURAGRAPH_WORKER_CONCURRENCY", str(d.worker_concurrency))),
            stalled_after_seconds=float(env.get("DURAGRAPH_STALLED_AFTER", str(d.stalled_after_seconds))),
            reaper_interval_seconds=float(env.get("DURAGRAPH_REAPER_INTERVAL", str(d.reaper_interval_seconds))),
            run_timeout_seconds=float(env["DURAGRAPH_RUN_TIMEOUT"]) if env.get("DURAGRAPH_RUN_TIMEOUT") else None,
            shutdown_grace_seconds=float(env.get("DURAGRAPH_SHUTDOWN_GRACE", str(d.shutdown_grace_seconds))),
            stream_outage_seconds=float(env.get("DURAGRAPH_STREAM_OUTAGE", str(d.stream_outage_seconds))),
            idempotency_retention_seconds=float(env.get("DURAGRAPH_IDEMPOTENCY_RETENTION",
                                                        str(d.idempotency_retention_seconds))),
            job_retention_seconds=float(env.get("DURAGRAPH_JOB_RETENTION", str(d.job_retention_seconds))),
            test_fault=env.get("DURAGRAPH_TEST_FAULT", ""),
            data_dir=Path(env.get("DURAGRAPH_DATA_DIR", str(d.data_dir))),
            api_keys=_csv(env.get("DURAGRAPH_API_KEYS", "")),
            cors_origins=_csv(env.get("DURAGRAPH_CORS_ORIGINS", "")),
            log_format=env.get("DURAGRAPH_LOG_FORMAT", d.log_format),
            metrics_port=int(env["DURAGRAPH_METRICS_PORT"]) if env.get("DURAGRAPH_METRICS_PORT") else None,
            limits=limits_from_env(env),
        )


# Limits field -> environment variable (each optional; the default is Limits' own)
LIMIT_VARIABLES: dict[str, str] = {
    "run_body_bytes": "DURAGRAPH_MAX_BODY_BYTES",
    "store_body_bytes": "DURAGRAPH_MAX_STORE_BODY_BYTES",
    "other_body_bytes": "DURAGRAPH_MAX_OTHER_BODY_BYTES",
    "json_depth": "DURAGRAPH_MAX_JSON_DEPTH",
    "state_bytes": "DURAGRAPH_MAX_STATE_BYTES",
    "store_value_bytes": "DURAGRAPH_MAX_STORE_VALUE_BYTES",
    "page_size": "DURAGRAPH_MAX_PAGE_SIZE",
    "pending_runs_per_thread": "DURAGRAPH_MAX_PENDING_RUNS_PER_THREAD",
    "streams_per_client": "DURAGRAPH_MAX_STREAMS_PER_CLIENT",
    "streams_total": "DURAGRAPH_MAX_STREAMS",
    "body_timeout_seconds": "DURAGRAPH_BODY_TIMEOUT",
    "keepalive_seconds": "DURAGRAPH_KEEPALIVE_TIMEOUT",
    "header_bytes": "DURAGRAPH_MAX_HEADER_BYTES",
}


def limits_from_env(env: Mapping[str, str]) -> Limits:
    d = Limits()
    values: dict[str, int | float] = {}
    for name, var in LIMIT_VARIABLES.items():
        raw = env.get(var)
        if raw:
            kind = type(getattr(d, name))
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r}: expected a {'number' if kind is float else 'whole number'}") \
                    from None
            if value <= 0:
                raise ValueError(f"{var}={raw!r}: must be greater than 0")
            values[name] = value
    return replace(d, **values)  # type: ignore[arg-type]


def default_config_path(cwd: Path | None = None) -> Path:
    """`duragraph.json`, else a LangGraph project's `langgraph.json`, in the working directory."""
    base = cwd or Path.cwd()
    for name in ("duragraph.json", "langgraph.json"):
        if (base / name).exists():
            return Path(name)
    return Path("duragraph.json")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
