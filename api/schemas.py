"""Request bodies in LangGraph Platform field names, plus small parsing helpers shared by the routers.

Bodies are msgspec Structs: Litestar validates them (422 on a wrong type) and unknown keys are ignored,
since the SDK sends keys some routes do not use (`strict_resume`, `langsmith_tracer`...). Optional fields
accept an explicit null because the SDK drops None-valued keys only on some calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from engine.errors import InvalidInput

Json = dict[str, Any]
Limit = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # PostgreSQL's bigint
SortOrder = Literal["asc", "desc"]
IfExists = Literal["raise", "do_nothing"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
StrList = str | list[str]


# -- helpers ------------------------------------------------------------------------------------


def parse_uuid(value: str, what: str = "thread") -> UUID:
    """A UUID from a path or body value; 422 `Invalid <what> ID: must be a UUID` otherwise."""
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"Invalid {what} ID: must be a UUID") from None


def select_fields(item: dict[str, Any], select: Sequence[str] | None, allowed: Sequence[str]) -> dict[str, Any]:
    """Only the `select`ed keys of an item (all of them when select is empty)."""
    if not select:
        return item
    unknown = [f for f in select if f not in allowed]
    if unknown:
        raise InvalidInput(f"Invalid select field(s) {unknown}: expected any of {list(allowed)}")
    return {k: v for k, v in item.items() if k in select}


def check_sort_by(sort_by: str | None, allowed: Sequence[str], default: str = "created_at") -> str:
    by = sort_by or default
    if by not in allowed:
        raise InvalidInput(f"Invalid sort_by {by!r}: expected one of {list(allowed)}")
    return by


def pagination_headers(total: int, limit: int, offset: int, returned: int) -> dict[str, str]:
    """`X-Pagination-Total` always, `X-Pagination-Next` (the next offset) when there are more."""
    headers = {"X-Pagination-Total": str(total)}
    if offset + returned < total and returned > 0:
        headers["X-Pagination-Next"] = str(offset + returned)
    return headers


def as_bool(value: str | None, default: bool = False) -> bool:
    """A query-string boolean as httpx sends it (`true`/`false`), also `1`/`0`/`yes`/`no`."""
    if value is None or value == "":
        return default
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise InvalidInput(f"Invalid boolean {value!r}: expected true or false")


def dict_or_none(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value else None


# -- assistants ---------------------------------------------------------------------------------


class AssistantCreate(msgspec.Struct, kw_only=True):
    graph_id: str
    assistant_id: str | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    if_exists: IfExists | None = None
    name: str | None = None
    description: str | None = None


class AssistantPatch(msgspec.Struct, kw_only=True):
    graph_id: str | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    name: str | None = None
    description: str | None = None


class AssistantSearch(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: str | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class AssistantCount(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersionSearch(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    limit: Limit = 10
    offset: Offset = 0


class AssistantSetLatest(msgspec.Struct, kw_only=True):
    version: Annotated[int, msgspec.Meta(ge=1)]


# -- threads ------------------------------------------------------------------------------------


class ThreadTTL(msgspec.Struct, kw_only=True):
    ttl: Annotated[float, msgspec.Meta(gt=0, le=52_560_000)]  # at most a century, in minutes
    strategy: Literal["delete"] = "delete"


class ThreadCreate(msgspec.Struct, kw_only=True):
    thread_id: str | None = None
    metadata: Json | None = None
    graph_id: str | None = None
    if_exists: IfExists | None = None
    supersteps: list[Json] | None = None
    ttl: ThreadTTL | float | None = None


class ThreadPatch(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    ttl: ThreadTTL | float | None = None


class ThreadSearch(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    values: Json | None = None
    ids: list[str] | None = None
    status: ThreadStatus | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: str | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None
    extract: dict[str, str] | None = None


class ThreadCount(msgspec.Struct, kw_only=True):
    metadata: Json | None = None
    values: Json | None = None
    status: ThreadStatus | None = None


class ThreadPrune(msgspec.Struct, kw_only=True):
    thread_ids: list[str]
    strategy: Literal["delete", "keep_latest"] = "delete"


def ttl_of(ttl: ThreadTTL | float | None) -> dict[str, Any] | None:
    if ttl is None:
        return None
    if isinstance(ttl, ThreadTTL):
        return {"ttl": ttl.ttl, "strategy": ttl.strategy}
    return {"ttl": ttl, "strategy": "delete"}


# -- store --------------------------------------------------------------------------------------


class StorePut(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str
    value: Json
    index: Literal[False] | list[str] | None = None
    ttl: Annotated[float, msgspec.Meta(gt=0, le=52_560_000)] | None = None  # minutes, at most a century


class StoreDelete(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str


class StoreSearch(msgspec.Struct, kw_only=True):
    namespace_prefix: list[str] = msgspec.field(default_factory=list)
    filter: Json | None = None
    limit: Limit = 10
    offset: Offset = 0
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(msgspec.Struct, kw_only=True):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: Annotated[int, msgspec.Meta(ge=1)] | None = None
    limit: Limit = 100
    offset: Offset = 0


# -- crons --------------------------------------------------------------------------------------


class CronCreate(msgspec.Struct, kw_only=True):
    schedule: str
    assistant_id: str
    input: Any = None
    metadata: Json | None = None
    config: Json | None = None
    context: Json | None = None
    checkpoint_during: bool | None = None
    interrupt_before: StrList | None = None
    interrupt_after: StrList | None = None
    webhook: str | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    end_time: datetime | None = None
    enabled: bool | None = None
    timezone: str | None = None
    stream_mode: StrList | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    on_run_completed: Literal["delete", "keep"] | None = None


class CronPatch(msgspec.Struct, kw_only=True):
    """Only the keys present count; `end_time: null` clears the end time, other nulls are ignored."""

    schedule: str | UnsetType | None = UNSET
    end_time: datetime | UnsetType | None = UNSET
    input: Any = UNSET
    metadata: Json | UnsetType | None = UNSET
    config: Json | UnsetType | None = UNSET
    context: Json | UnsetType | None = UNSET
    webhook: str | UnsetType | None = UNSET
    interrupt_before: StrList | UnsetType | None = UNSET
    interrupt_after: StrList | UnsetType | None = UNSET
    on_run_completed: Literal["delete", "keep"] | UnsetType | None = UNSET
    enabled: bool | UnsetType | None = UNSET
    timezone: str | UnsetType | None = UNSET
    stream_mode: StrList | UnsetType | None = UNSET
    stream_subgraphs: bool | UnsetType | None = UNSET
    stream_resumable: bool | UnsetType | None = UNSET
    durability: Literal["sync", "async", "exit"] | UnsetType | None = UNSET

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if value is UNSET or (value is None and field != "end_time"):
                continue
            out[field] = value
        return out


class CronSearch(msgspec.Struct, kw_only=True):
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: Json | None = None
    limit: Limit = 10
    offset: Offset = 0
    sort_by: str | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class CronCount(msgspec.Struct, kw_only=True):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: Json | None = None
