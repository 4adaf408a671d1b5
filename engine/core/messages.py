"""`add_messages`: LangGraph's message-list reducer for JSON messages (dicts with an "id").

Append new messages, replace ones whose id already exists, delete on `{"type": "remove", "id": ...}`
(`id == "__remove_all__"` clears everything before it). Strings become human messages, (role,
content) tuples become messages of that role; objects with an `.id` attribute (e.g. LangChain
messages) are handled by attribute, so they work too.
"""

from __future__ import annotations

import uuid
from typing import Any

REMOVE_ALL_MESSAGES = "__remove_all__"

_ROLE_TO_TYPE = {"user": "human", "human": "human", "assistant": "ai", "ai": "ai", "system": "system", "tool": "tool"}


def _coerce(message: Any) -> Any:
    if isinstance(message, str):
        return {"type": "human", "content": message}
    if isinstance(message, tuple) and len(message) == 2:
        role, content = message
        return {"type": _ROLE_TO_TYPE.get(str(role), str(role)), "content": content}
    if isinstance(message, dict):
        return dict(message)
    return message


def _get_id(message: Any) -> Any:
    if isinstance(message, dict):
        return message.get("id")
    return getattr(message, "id", None)


def _set_id(message: Any, value: str) -> None:
    if isinstance(message, dict):
        message["id"] = value
    else:
        message.id = value


def _is_remove(message: Any) -> bool:
    if isinstance(message, dict):
        return message.get("type") == "remove"
    return type(message).__name__ == "RemoveMessage"


def remove_message(message_id: str) -> dict[str, Any]:
    """The JSON form of LangGraph's RemoveMessage(id=...)."""
    return {"type": "remove", "id": message_id}


def add_messages(left: Any, right: Any) -> list[Any]:
    """Merge two message lists by id (see module docstring)."""
    lefts = [_coerce(m) for m in (left if isinstance(left, list) else [left])]
    rights = [_coerce(m) for m in (right if isinstance(right, list) else [right])]
    for m in lefts:
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
    remove_all_idx = None
    for idx, m in enumerate(rights):
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
        if _is_remove(m) and _get_id(m) == REMOVE_ALL_MESSAGES:
            remove_all_idx = idx
    if remove_all_idx is not None:
        return rights[remove_all_idx + 1 :]
    merged = list(lefts)
    index_by_id = {_get_id(m): i for i, m in enumerate(merged)}
    to_remove: set[Any] = set()
    for m in rights:
        mid = _get_id(m)
        existing = index_by_id.get(mid)
        if existing is not None:
            if _is_remove(m):
                to_remove.add(mid)
            else:
                to_remove.discard(mid)
                merged[existing] = m
        else:
            if _is_remove(m):
                raise ValueError(f"Attempting to delete a message with an ID that doesn't exist ('{mid}')")
            index_by_id[mid] = len(merged)
            merged.append(m)
    if to_remove:
        merged = [m for m in merged if _get_id(m) not in to_remove]
    return merged
