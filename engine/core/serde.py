"""JSON serde for everything the durable layer stores (checkpoints, tasks, outcomes, decisions).

orjson with a default hook: dataclasses and pydantic models become dicts, sets become sorted lists,
engine value types (Send, Command, Interrupt) use their `to_json`. `normalize` is dumps+loads: the
core keeps checkpoint values in exactly the form Postgres jsonb will give back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):  # pydantic v2 (incl. LangChain messages)
        return model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, tuple):
        return list(obj)
    dict_fn = getattr(obj, "dict", None)
    if callable(dict_fn):  # pydantic v1
        return dict_fn()
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Serialize to JSON bytes (raises TypeError for values that have no JSON form)."""
    return orjson.dumps(obj, default=_default, option=_OPTS)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(data)


def normalize(obj: Any) -> Any:
    """The value as it comes back from storage (tuples -> lists, models -> dicts...)."""
    return orjson.loads(dumps(obj))


def as_update_dict(obj: Any) -> dict[str, Any] | None:
    """A node may return a dataclass / pydantic instance of its state: turn it into a dict update."""
    if isinstance(obj, dict):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    fields_set = getattr(obj, "model_fields_set", None)
    if fields_set is not None and hasattr(type(obj), "model_fields"):
        # pydantic: like LangGraph, only the fields that were set (plus non-None defaults)
        return {k: getattr(obj, k) for k in type(obj).model_fields if k in fields_set or getattr(obj, k) is not None}
    return None
