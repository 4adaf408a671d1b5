"""JSON Schema of a state / input / output schema, from type hints only (stdlib; pydantic by duck typing)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    bytes: {"type": "string"},
}


def type_schema(tp: Any, depth: int = 0) -> dict[str, Any]:
    """Schema of one annotation (best effort; unknown types give `{}` = anything)."""
    if depth > 8:
        return {}
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated or hasattr(tp, "__metadata__"):
        return type_schema(tp.__origin__, depth + 1)
    if origin in (Required, NotRequired):
        return type_schema(args[0], depth + 1)
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [type_schema(a, depth + 1) for a in args]}
    if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple):
        out: dict[str, Any] = {"type": "array"}
        if args and not (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
            out["items"] = type_schema(args[0], depth + 1) if len(args) == 1 or origin is not tuple else {}
        return out
    if origin is dict or tp is dict:
        out = {"type": "object"}
        if len(args) == 2:
            out["additionalProperties"] = type_schema(args[1], depth + 1)
        return out
    if isinstance(tp, type) and (is_typeddict(tp) or dataclasses.is_dataclass(tp)):
        return object_schema(tp, depth + 1)
    model_schema = getattr(tp, "model_json_schema", None)
    if callable(model_schema):
        return dict(model_schema())
    return {}


def object_schema(schema: Any, depth: int = 0, keys: list[str] | None = None) -> dict[str, Any]:
    """Schema of a TypedDict / dataclass / pydantic state class (optionally restricted to `keys`)."""
    model_schema = getattr(schema, "model_json_schema", None)
    if callable(model_schema) and keys is None:
        return dict(model_schema())
    try:
        hints = get_type_hints(schema, include_extras=True)
    except Exception:
        hints = dict(getattr(schema, "__annotations__", {}))
    props = {k: type_schema(v, depth + 1) for k, v in hints.items() if keys is None or k in keys}
    required: list[str] = []
    if is_typeddict(schema):
        required = [k for k in getattr(schema, "__required_keys__", ()) if k in props]
    out: dict[str, Any] = {"title": getattr(schema, "__name__", "State"), "type": "object", "properties": props}
    if required:
        out["required"] = sorted(required)
    return out
