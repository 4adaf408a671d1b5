"""`codec.ListWire`: a long list shown again dumps only what is new, and always as the same JSON."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from engine.core import codec


def _messages(n: int) -> list[object]:
    return [HumanMessage(f"turn {i}", id=f"h{i}") if i % 2 == 0 else AIMessage(f"reply {i}", id=f"a{i}")
            for i in range(n)]


def test_fragments_dump_as_the_list_itself() -> None:
    lists = codec.ListWire()
    msgs = _messages(1200)
    for n in (10, 63, 64, 255, 256, 257, 600, 602, 1024, 1025, 1200, 700):
        shown = lists.fragments("thread", msgs[:n])
        assert codec.wire_dumps({"messages": shown}) == codec.wire_dumps({"messages": msgs[:n]}), n
    assert codec.to_wire({"m": lists.fragments("thread", msgs[:300])})["m"][299]["id"] == "a299"


def test_a_replaced_or_reordered_item_is_dumped_again() -> None:
    lists = codec.ListWire()
    msgs = _messages(600)
    lists.fragments("thread", msgs)
    changed = list(msgs)
    changed[3] = AIMessage("changed", id="a3")  # add_messages replaces a message by id: a new object
    assert codec.to_wire({"m": lists.fragments("thread", changed)})["m"][3]["content"] == "changed"
    reordered = list(reversed(msgs))
    assert codec.wire_dumps(lists.fragments("thread", reordered)) == codec.wire_dumps(reordered)


def test_keys_are_bounded() -> None:
    lists = codec.ListWire(keys=2)
    msgs = _messages(100)
    for key in ("a", "b", "c"):
        lists.fragments(key, msgs)
    assert len(lists._items) == 2


def test_bytes_are_bounded() -> None:
    lists = codec.ListWire(max_bytes=20_000)
    msgs = _messages(300)  # about 30 KB of JSON
    lists.fragments("a", msgs[:100])
    assert len(lists._items) == 1
    shown = lists.fragments("b", msgs)  # over the bound alone: shown, not kept
    assert codec.wire_dumps(shown) == codec.wire_dumps(msgs) and not lists._items and lists._bytes == 0
