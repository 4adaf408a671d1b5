"""Table-driven tests of channels, reducers and add_messages."""

from __future__ import annotations

import operator
from typing import Annotated, Any

import pytest

from engine import add_messages
from engine.core.channels import (
    MISSING,
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    NamedBarrierValue,
    Topic,
    channel_for_annotation,
)
from engine.core.errors import InvalidGraphError, InvalidUpdateError
from engine.core.messages import REMOVE_ALL_MESSAGES, remove_message
from engine.core.types import Send


@pytest.mark.parametrize(
    "annotation,kind,initial",
    [
        (int, "last_value", MISSING),
        (Annotated[list, operator.add], "reducer", []),
        (Annotated[list[int], operator.add], "reducer", []),
        (Annotated[int, operator.add], "reducer", 0),
        (Annotated[str, operator.add], "reducer", ""),
        (Annotated[set, operator.or_], "reducer", set()),
        (Annotated[list, add_messages], "reducer", []),
    ],
)
def test_channel_for_annotation(annotation: Any, kind: str, initial: Any) -> None:
    ch = channel_for_annotation("k", annotation)
    assert ch.kind == kind
    assert ch.load(MISSING).value == initial


@pytest.mark.parametrize(
    "reducer",
    [lambda a: a, lambda a, b, c: a, lambda: None],
)
def test_bad_reducer_signature(reducer: Any) -> None:
    with pytest.raises(InvalidGraphError, match="reducer signature"):
        channel_for_annotation("k", Annotated[list, reducer])


@pytest.mark.parametrize(
    "writes,expected,updated",
    [
        ([], MISSING, False),
        ([1], 1, True),
        ([None], None, True),
    ],
)
def test_last_value(writes: list[Any], expected: Any, updated: bool) -> None:
    ch = LastValue().load(MISSING)
    assert ch.update(writes) is updated
    assert ch.value == expected


def test_last_value_concurrent_writes() -> None:
    ch = LastValue()
    ch.key = "x"
    with pytest.raises(InvalidUpdateError, match="At key 'x': Can receive only one value per step"):
        ch.load(MISSING).update([1, 2])


@pytest.mark.parametrize(
    "start,writes,expected",
    [
        ([1], [[2], [3]], [1, 2, 3]),
        (MISSING, [[2]], [2]),
        ([1], [{"__overwrite__": [9]}, [4]], [9]),
        ([1], [[4], {"type": "__overwrite__", "value": [7]}], [7]),
    ],
)
def test_binop_reducer(start: Any, writes: list[Any], expected: Any) -> None:
    ch = BinaryOperatorAggregate(list, operator.add).load(start)
    ch.update(writes)
    assert ch.value == expected


def test_binop_two_overwrites_fail() -> None:
    ch = BinaryOperatorAggregate(list, operator.add).load([])
    with pytest.raises(InvalidUpdateError):
        ch.update([{"__overwrite__": [1]}, {"__overwrite__": [2]}])


def test_set_reducer_survives_json() -> None:
    ch = BinaryOperatorAggregate(set, operator.or_).load([1, 2])  # JSON gave back a list
    ch.update([{3}])
    assert ch.value == {1, 2, 3}


def test_ephemeral_clears_on_empty_update() -> None:
    ch = EphemeralValue().load("v")
    assert ch.is_available()
    assert ch.update([]) is True
    assert not ch.is_available()
    assert ch.update([]) is False


def test_named_barrier() -> None:
    ch = NamedBarrierValue(["a", "b"]).load(MISSING)
    assert ch.update(["a"]) and not ch.is_available()
    assert ch.dump() == ["a"]
    assert ch.update(["b"]) and ch.is_available()
    assert ch.consume() and not ch.is_available()
    with pytest.raises(InvalidUpdateError):
        ch.update(["zzz"])


def test_topic_replaces_each_step() -> None:
    ch = Topic().load(MISSING)
    assert ch.update([Send("n", 1), [Send("n", 2)]])
    assert ch.get() == [{"node": "n", "arg": 1}, {"node": "n", "arg": 2}]
    assert ch.update([]) is True
    assert not ch.is_available()


@pytest.mark.parametrize(
    "left,right,expected",
    [
        ([{"id": "1", "content": "a"}], [{"id": "2", "content": "b"}], ["a", "b"]),
        ([{"id": "1", "content": "a"}], [{"id": "1", "content": "A"}], ["A"]),
        ([{"id": "1", "content": "a"}, {"id": "2", "content": "b"}], [remove_message("1")], ["b"]),
        ([{"id": "1", "content": "a"}], [remove_message(REMOVE_ALL_MESSAGES), {"id": "3", "content": "c"}], ["c"]),
        ([], "hello", ["hello"]),
        ([], [("assistant", "hi")], ["hi"]),
    ],
)
def test_add_messages(left: list[Any], right: Any, expected: list[str]) -> None:
    merged = add_messages(left, right)
    assert [m["content"] for m in merged] == expected
    assert all(m.get("id") for m in merged)


def test_add_messages_remove_unknown_id() -> None:
    with pytest.raises(ValueError, match="doesn't exist"):
        add_messages([], [remove_message("nope")])


def test_add_messages_coerces_roles() -> None:
    merged = add_messages([], [("user", "q"), ("assistant", "a"), "plain"])
    assert [m["type"] for m in merged] == ["human", "ai", "human"]
