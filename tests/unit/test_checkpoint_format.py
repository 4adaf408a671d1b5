"""The stored forms of a checkpoint's parts: channel versions order as LangGraph compares them (and a
thread begun with the older form keeps it), blobs round-trip whether deflated or not."""

from __future__ import annotations

import base64
import os
import re
import zlib

from langchain_core.messages import AIMessage, HumanMessage

from engine.core import codec
from engine.core.saver import new_version

LEGACY = re.compile(r"[0-9]{32}\.[0-9a-f]{16}")


def test_versions_sort_as_their_counters_and_are_short() -> None:
    versions, v = [], None
    for _ in range(70_000):  # across the 1 -> 2 -> 3 -> 4 -> 5 hex digit boundaries
        v = new_version(v)
        versions.append(v)
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert max(versions) == versions[-1] and len(versions[-1]) <= 15
    assert not any(LEGACY.fullmatch(x) for x in versions)
    # two branches from one version get different versions of the same counter
    assert new_version(versions[10]) != new_version(versions[10])


def test_a_thread_in_the_older_form_keeps_it() -> None:
    old = "00000000000000000000000000000117.b01a9035ea29126d"
    nxt = new_version(old)
    assert LEGACY.fullmatch(nxt) and nxt.startswith("00000000000000000000000000000118.") and nxt > old


def test_blobs_round_trip_deflated_or_not() -> None:
    small = {"items": [1, "two", None]}
    text = {"items": [AIMessage("words " * 300, id="m")]}
    noise = {"value": os.urandom(2000)}  # does not deflate: stored as it is
    b64 = {"value": base64.b64encode(os.urandom(1500)).decode()}
    for payload in (small, text, noise, b64, {"value": None}):
        data, size = codec.pack_sized(payload)
        assert codec.unpack(data) == payload
        assert size >= len(data)
    assert codec.pack(small)[:1] != b"\x78" and codec.pack(noise)[:1] != b"\x78"
    assert codec.pack(text)[:1] == b"\x78" and len(codec.pack(text)) < codec.pack_sized(text)[1] // 4


def test_a_short_message_deflates_with_the_preset_dictionary() -> None:
    short = {"items": [HumanMessage("turn 39", id="943999f6-592c-420e-8a91-50320534f0fe")]}
    data, size = codec.pack_sized(short)
    assert data[:1] == b"\x78" and len(data) < size // 2 and codec.unpack(data) == short
    # a value deflated without the dictionary (rows written before it) reads too
    assert codec.unpack(zlib.compress(codec._SERDE.dumps_typed(short)[1])) == short


def test_typed_values_in_json_deflate_when_it_pays() -> None:
    """A task's writes (stored in its task_result event as JSON) keep a typed value as base64 msgpack,
    deflated when that saves a tenth; the older undeflated form reads too."""
    text = AIMessage("words " * 300, id="m")
    short = HumanMessage("hi", id="h")
    noise = os.urandom(3000)  # does not deflate
    for value in (text, short, noise, {1, 2, 3}):
        assert codec.decode(codec.encode(value)) == value
        kind, data = codec._SERDE.dumps_typed(value)
        assert codec.decode({"__lg__": [kind, base64.b64encode(data).decode()]}) == value
    assert codec.encode(text)["__lg__"][0] == "msgpack+zlib"
    assert len(codec.encode(text)["__lg__"][1]) < 600  # (1,800 characters of text)
    assert codec.encode(noise)["__lg__"][0] != "msgpack+zlib"
    # a short message deflates too, with the names every message repeats as the preset dictionary
    assert codec.encode(short)["__lg__"][0] == "msgpack+zlib"
    assert len(codec.encode(short)["__lg__"][1]) * 2 < len(base64.b64encode(codec._SERDE.dumps_typed(short)[1]))
