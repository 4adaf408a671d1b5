"""The run-create payload (stream / wait / create / batch / crons) -> the engine's RunRequest.

Every field langgraph-sdk can send is either honoured or refused with a clear 4xx naming it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

from engine.durable.runs import RunRequest
from engine.errors import BadRequest, InvalidInput, Unsupported

STREAM_MODES = frozenset(
    {"values", "updates", "messages", "messages-tuple", "custom", "events", "debug", "tasks", "checkpoints"}
)


class RunCreate(msgspec.Struct, kw_only=True):
    assistant_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    # Every step is committed durably before its successors are enqueued, which satisfies each of
    # LangGraph's durability levels (sync is the strongest); so these are honoured by construction.
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    if_not_exists: Literal["reject", "create"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: Annotated[float, msgspec.Meta(ge=0)] | None = None
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    langsmith_tracer: dict[str, Any] | None = None
    # Resumes are always strict here (a value must match a pending interrupt), as strict_resume asks.
    strict_resume: bool | None = None


def stream_modes(value: str | list[str] | None) -> list[str]:
    modes = [value] if isinstance(value, str) else list(value or ["values"])
    bad = [m for m in modes if m not in STREAM_MODES]
    if bad:
        raise InvalidInput(f"Invalid stream_mode {bad}: expected any of {sorted(STREAM_MODES)}")
    return modes or ["values"]


def _checkpoint_id(body: RunCreate) -> uuid.UUID | None:
    raw = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if raw is None:
        return None
    if (body.checkpoint or {}).get("checkpoint_ns"):
        raise Unsupported("checkpoint.checkpoint_ns: starting a run from a subgraph checkpoint is not supported")
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise InvalidInput(f"Invalid checkpoint_id {raw!r}: must be a UUID") from None


def _webhook(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"Invalid webhook {url!r}: must be an absolute http(s) URL")
    return url


def to_request(body: RunCreate, thread_id: uuid.UUID | None) -> RunRequest:
    if body.feedback_keys:
        raise Unsupported("feedback_keys: LangSmith feedback is not supported")
    if body.langsmith_tracer:
        raise Unsupported("langsmith_tracer: LangSmith tracing is not supported")
    config = dict(body.config or {})
    limit = config.get("recursion_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidInput(f"config.recursion_limit: expected a whole number of at least 1, got {limit!r}")
    if config.get("configurable") and body.context:
        raise InvalidInput("Cannot specify both configurable and context. Use context only.")
    command = body.command
    if command is not None:
        unknown = set(command) - {"resume", "update", "goto"}
        if unknown:
            raise InvalidInput(f"Invalid command keys {sorted(unknown)}: expected resume, update, goto")
        if body.input is not None:
            raise InvalidInput("Give either input or command, not both")
    if thread_id is None:
        if body.checkpoint_id or body.checkpoint:
            raise InvalidInput("checkpoint_id: a stateless run has no thread to start from")
        if command and "resume" in command:
            raise BadRequest("You must provide a thread_id when resuming.")
    elif body.on_completion is not None:
        raise InvalidInput("on_completion applies to stateless runs only (POST /runs...)")
    return RunRequest(
        assistant_id=body.assistant_id,
        thread_id=thread_id,
        input=body.input,
        command=command,
        config=config,
        context=dict(body.context or {}),
        metadata=dict(body.metadata or {}),
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        checkpoint_id=_checkpoint_id(body),
        multitask_strategy=body.multitask_strategy or "enqueue",
        if_not_exists=body.if_not_exists or "reject",
        after_seconds=body.after_seconds or 0,
        webhook=_webhook(body.webhook),
        on_completion=body.on_completion or "delete",
        stream_mode=stream_modes(body.stream_mode),
        stream_subgraphs=bool(body.stream_subgraphs),
        stream_resumable=bool(body.stream_resumable),
    )
