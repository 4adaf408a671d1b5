"""Response models of the REST API, named and shaped like the official LangGraph server's OpenAPI
(`Assistant`, `Thread`, `Run`, `ThreadState`, `Checkpoint`, `Cron`, `Item`...), so /openapi.json
describes what the routes return and a generated client knows the fields. TypedDicts: the routes keep
returning the dicts the engine builds; these only type them (tests validate real responses against
the published document). No `from __future__ import annotations` here: TypedDict must see `NotRequired`.
"""

from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict
from uuid import UUID

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted"]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]


class Assistant(TypedDict):
    assistant_id: UUID
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class Interrupt(TypedDict):
    value: Any
    id: str


class AssistantVersion(TypedDict):
    assistant_id: UUID
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    name: str
    description: str | None
    version: int
    created_at: datetime


class ThreadTTLInfo(TypedDict):
    strategy: NotRequired[str]
    ttl_minutes: NotRequired[float]
    expires_at: NotRequired[datetime]


class Thread(TypedDict):
    thread_id: UUID
    created_at: datetime
    updated_at: datetime
    state_updated_at: NotRequired[datetime | None]
    metadata: dict[str, Any]
    status: ThreadStatus
    values: dict[str, Any] | list[Any] | None
    interrupts: dict[str, list[Interrupt]]
    config: NotRequired[dict[str, Any]]
    ttl: NotRequired[ThreadTTLInfo | None]


class Checkpoint(TypedDict):
    thread_id: UUID
    checkpoint_ns: str
    checkpoint_id: str
    checkpoint_map: NotRequired[dict[str, Any] | None]


class ThreadTask(TypedDict):
    id: str
    name: str
    path: NotRequired[list[Any]]
    error: str | None
    interrupts: list[Interrupt]
    checkpoint: Checkpoint | None
    state: "ThreadState | None"
    result: NotRequired[dict[str, Any] | None]


class ThreadState(TypedDict):
    values: dict[str, Any] | list[Any]
    next: list[str]
    tasks: list[ThreadTask]
    checkpoint: Checkpoint
    metadata: dict[str, Any]
    created_at: datetime | None
    parent_checkpoint: Checkpoint | None
    interrupts: list[Interrupt]
    checkpoint_id: NotRequired[str]
    parent_checkpoint_id: NotRequired[str | None]


class ThreadUpdateStateResponse(TypedDict):
    checkpoint: Checkpoint


class Run(TypedDict):
    run_id: UUID
    thread_id: UUID
    assistant_id: UUID
    created_at: datetime
    updated_at: datetime
    status: RunStatus
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: MultitaskStrategy


class Cron(TypedDict):
    cron_id: UUID
    assistant_id: UUID
    thread_id: UUID | None
    user_id: str | None
    end_time: datetime | None
    schedule: str
    timezone: NotRequired[str | None]
    payload: dict[str, Any]
    next_run_date: datetime | None
    metadata: dict[str, Any]
    on_run_completed: NotRequired[str | None]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class Item(TypedDict):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SearchItem(Item):
    score: float | None


class SearchItemsResponse(TypedDict):
    items: list[SearchItem]


class ListNamespaceResponse(TypedDict):
    namespaces: list[list[str]]


class ThreadPruneResponse(TypedDict):
    pruned_count: int


class GraphSchema(TypedDict):
    graph_id: str
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    state_schema: dict[str, Any] | None
    config_schema: dict[str, Any] | None
    context_schema: dict[str, Any] | None


class GraphNode(TypedDict):
    id: str
    type: NotRequired[str]
    data: NotRequired[Any]
    metadata: NotRequired[dict[str, Any] | None]


class GraphEdge(TypedDict):
    source: str
    target: str
    data: NotRequired[Any]
    conditional: NotRequired[bool]


class Graph(TypedDict):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class Info(TypedDict):
    version: str
    flags: dict[str, Any]
    host: dict[str, Any]
