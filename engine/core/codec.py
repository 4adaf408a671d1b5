"""How values are stored and shown.

Storage (`encode` / `decode`): checkpoint channel values and task writes go to Postgres jsonb. A value
that is plain JSON is stored as itself; anything else (LangChain messages, pydantic models, dataclasses,
datetimes, sets, `Send`...) is stored through LangGraph's own serializer as `{"__lg__": [kind, <base64
msgpack>]}` (deflated when that pays) and comes back as the same Python object.

Channel blobs (`pack` / `unpack`): LangGraph's serializer's msgpack bytes, stored as bytea (deflated when
large enough for it to pay).

Wire (`wire_dumps` / `to_wire`): what the API returns and events carry, in the shapes the official
server returns (a message is `{"type": "ai", "content": ..., "id": ..., ...}`).
"""

from __future__ import annotations

import base64
import dataclasses
import operator
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
import ormsgpack
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

TYPED = "__lg__"
_SERDE = JsonPlusSerializer()
_PLAIN_OPTS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_WIRE_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class UnserializableValue(TypeError):
    """A value neither JSON nor LangGraph's serializer can store."""


def _not_plain(obj: Any) -> Any:
    raise TypeError


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value) in (type(None), bool, int, float, str)
    try:
        orjson.dumps(value, default=_not_plain, option=_PLAIN_OPTS)
    except TypeError:
        return False
    return not _has_tuple(value)


def _has_tuple(value: Any) -> bool:
    if isinstance(value, tuple):
        return True
    if isinstance(value, list):
        return any(_has_tuple(v) for v in value if isinstance(v, (list, tuple, dict)))
    if isinstance(value, dict):
        return TYPED in value or any(_has_tuple(v) for v in value.values() if isinstance(v, (list, tuple, dict)))
    return False


def encode(value: Any) -> Any:
    """A JSON-able stand-in for `value` that `decode` turns back into an equal object. LangGraph's msgpack
    of a value past `DEFLATE_FROM` bytes is deflated (as `pack` does) when that saves a tenth: kind
    `msgpack+zlib`."""
    if _is_plain(value):
        return value
    try:
        kind, data = _SERDE.dumps_typed(value)
    except Exception as exc:
        raise UnserializableValue(f"{type(value).__name__} cannot be stored: {exc}") from exc
    if kind == "msgpack" and (deflated := _deflated(data)) is not None:
        kind, data = _DEFLATED, deflated
    return {TYPED: [kind, base64.b64encode(data).decode()]}


def decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and TYPED in value:
        kind, data = value[TYPED]
        raw = base64.b64decode(data)
        if kind == _DEFLATED:
            return _SERDE.loads_typed(("msgpack", _inflate(raw)))
        return _SERDE.loads_typed((kind, raw))
    return value


def _deflated(data: bytes) -> bytes | None:
    """`data` deflated (with the preset dictionary), when it is `DEFLATE_FROM` bytes or more and deflating
    saves a tenth of it; else None."""
    if len(data) < DEFLATE_FROM:
        return None
    z = zlib.compressobj(1, zdict=_WORDS)
    deflated = z.compress(data) + z.flush()
    return deflated if len(deflated) * 10 <= len(data) * 9 else None


def _inflate(data: bytes) -> bytes:
    z = zlib.decompressobj(zdict=_WORDS)
    return z.decompress(data) + z.flush()


def pack(payload: dict[str, Any]) -> bytes:
    """`payload` as LangGraph's serializer writes it (msgpack, as its own Postgres saver stores channel
    values in bytea): what a checkpoint's channel blobs hold, binary (no base64, no JSON wrapping). Past
    `DEFLATE_FROM` bytes it is deflated (zlib, with a preset dictionary of the names every LangChain message
    repeats) when that saves a tenth: text, a chat's messages."""
    return pack_sized(payload)[0]


def pack_sized(payload: dict[str, Any]) -> tuple[bytes, int]:
    """`pack`, and the size of the serialized value before deflating (what the state limit counts)."""
    try:
        kind, data = _SERDE.dumps_typed(payload)
    except Exception as exc:
        raise UnserializableValue(f"a value cannot be stored: {exc}") from exc
    assert kind == "msgpack", kind  # (a dict is always msgpack: its first byte is a map's, never zlib's)
    deflated = _deflated(data)
    return (data if deflated is None else deflated), len(data)


def unpack(data: bytes) -> dict[str, Any]:
    if data[:1] == _ZLIB:
        if data[1] & _FDICT:
            data = _inflate(data)
        else:  # (deflated without the dictionary: rows written before it)
            data = zlib.decompress(data)
    return _SERDE.loads_typed(("msgpack", data))  # type: ignore[no-any-return]


DEFLATE_FROM = 64
_DEFLATED = "msgpack+zlib"  # `encode`'s kind of a deflated msgpack value (with the preset dictionary)
_ZLIB = b"\x78"  # a zlib stream's first byte (deflate, 32 KiB window); a msgpack map starts with 0x80-0x8f
_FDICT = 0x20  # its second byte's flag: deflated with a preset dictionary
# The preset dictionary (never to change: rows are deflated with it): the names LangGraph's serializer
# writes in every LangChain message, as msgpack strings, so that a short message deflates too (a chat
# message's 200 bytes of field names and class paths are most of a short one). Most frequent last.
_WORDS = ormsgpack.packb([
    "model_validate_json", "langchain_core.messages.tool", "ToolMessage", "tool_call_id", "artifact", "status",
    "success", "langchain_core.messages.system", "SystemMessage", "system", "usage_metadata", "input_tokens",
    "output_tokens", "total_tokens", "input_token_details", "output_token_details", "finish_reason", "model_name",
    "model_provider", "stop", "tool_call", "args", "invalid_tool_calls", "tool_calls", "langchain_core.messages.ai",
    "AIMessage", "ai", "example", "langchain_core.messages.human", "HumanMessage", "human", "content",
    "additional_kwargs", "response_metadata", "type", "name", "id", "items", "value", "messages",
])


def encode_items(items: list[Any]) -> list[Any]:
    """A list, item by item (so that items appended later can be stored alone and the list rebuilt)."""
    return [encode(item) for item in items]


def decode_items(items: list[Any]) -> list[Any]:
    return [decode(item) for item in items]


def encode_map(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            out[key] = encode(value)
        except UnserializableValue as exc:
            raise UnserializableValue(f"value of {key!r}: {exc}") from exc
    return out


def decode_map(values: dict[str, Any]) -> dict[str, Any]:
    return {k: decode(v) for k, v in values.items()}


class _WireMemo:
    """The wire JSON of pydantic objects (LangChain messages) already shown, by identity: a long thread's
    messages are the same objects turn after turn (the checkpoint values a process caches), so showing the
    whole state again copies their JSON instead of dumping every message again. Holding the object keeps
    its id from being reused; least recently used entries go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[Any, orjson.Fragment]] = OrderedDict()

    def get(self, obj: Any, dump: Callable[[], Any]) -> orjson.Fragment:
        key = id(obj)
        hit = self._items.get(key)
        if hit is not None and hit[0] is obj:
            self._items.move_to_end(key)
            return hit[1]
        fragment = orjson.Fragment(orjson.dumps(dump(), default=_wire_default, option=_WIRE_OPTS))
        self._items[key] = (obj, fragment)
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return fragment


_MEMO = _WireMemo(50_000)


class ListWire:
    """The wire JSON of long lists shown again and again (a thread's messages, at the end of every turn),
    by key. The JSON is kept in chunks of `CHUNK` items (the items' JSON joined by commas: an
    `orjson.Fragment` is copied into the output as it is, so a list of chunk fragments dumps as the JSON
    array of all the items). When the list still starts with the very items shown last time (the same
    objects: a list that was appended to), the full chunks are reused and only the rest is dumped. At most
    `keys` lists and `max_bytes` of JSON are kept, least recently shown first out."""

    MIN_ITEMS = 64
    CHUNK = 256

    def __init__(self, keys: int = 32, max_bytes: int = 64 << 20) -> None:
        self.keys = keys
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Any, tuple[list[Any], list[orjson.Fragment], list[int]]] = OrderedDict()

    def fragments(self, key: Any, items: list[Any]) -> list[Any]:
        """`items`, or (a long list) fragments that dump as the same JSON array."""
        if len(items) < self.MIN_ITEMS:
            return items
        last = self._items.get(key)
        kept: list[orjson.Fragment] = []
        if last is not None:
            full = (len(last[0]) // self.CHUNK) * self.CHUNK
            if full <= len(items) and all(map(operator.is_, last[0][:full], items[:full])):
                kept = last[1][:full // self.CHUNK]
        chunks = list(kept)
        sizes = last[2][:len(kept)] if last is not None else []
        for start in range(len(kept) * self.CHUNK, len(items), self.CHUNK):
            data = wire_dumps(items[start:start + self.CHUNK])[1:-1]
            sizes.append(len(data))
            chunks.append(orjson.Fragment(data))
        if last is not None:
            self._bytes -= sum(self._items.pop(key)[2])
        self._items[key] = (list(items), chunks, sizes)
        self._bytes += sum(sizes)
        while self._items and (len(self._items) > self.keys or self._bytes > self.max_bytes):
            self._bytes -= sum(self._items.popitem(last=False)[1][2])
        return chunks


LISTS = ListWire()


def _wire_default(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and not isinstance(obj, type):  # pydantic v2, LangChain messages
        return _MEMO.get(obj, lambda: model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if isinstance(obj, tuple):
        return list(obj)
    from langgraph.types import Command, Interrupt, Send

    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id}
    if isinstance(obj, Send):
        return {"node": obj.node, "arg": obj.arg}
    if isinstance(obj, Command):
        return {k: v for k, v in (("update", obj.update), ("resume", obj.resume), ("goto", obj.goto)) if v}
    dict_fn = getattr(obj, "dict", None)
    if callable(dict_fn):  # pydantic v1
        return dict_fn()
    to_json = getattr(obj, "to_json", None)
    if callable(to_json) and not isinstance(obj, type):
        return to_json()
    if isinstance(obj, BaseException):
        return {"type": type(obj).__name__, "message": str(obj)}
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def wire_dumps(value: Any) -> bytes:
    """JSON bytes in the official server's shapes (raises TypeError for a value with no JSON form)."""
    return orjson.dumps(value, default=_wire_default, option=_WIRE_OPTS)


def to_wire(value: Any) -> Any:
    """`value` as plain JSON data (what a client reading the API gets)."""
    return orjson.loads(wire_dumps(value))
