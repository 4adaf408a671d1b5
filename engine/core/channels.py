"""Channels: how writes of one superstep combine into the next state (LangGraph's channels/).

A channel is a small mutable object built from its JSON checkpoint form (`load`) and turned back
into it (`dump`). The graph holds one prototype per channel; the barrier loads fresh copies.

- LastValue: a plain state key; two writes in one superstep -> InvalidUpdateError.
- BinaryOperatorAggregate: `Annotated[T, reducer]`; starts from `T()` like LangGraph.
- EphemeralValue: `branch:to:<node>` triggers and `__start__`; cleared after one step.
- NamedBarrierValue: `join:a+b:c` for `add_edge(["a", "b"], "c")`.
- Topic: the pending `Send` packets.
"""

from __future__ import annotations

import collections.abc
import inspect
from collections.abc import Callable, Sequence
from typing import Any, NotRequired, Required, get_args, get_origin

from engine.core.errors import InvalidGraphError, InvalidUpdateError
from engine.core.types import Send


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
OVERWRITE = "__overwrite__"


class Channel:
    """Base channel. Subclasses override the hooks they need; state lives in `value`."""

    kind = "base"

    def __init__(self) -> None:
        self.key = ""
        self.value: Any = MISSING

    def clone(self) -> Channel:
        raise NotImplementedError

    def load(self, data: Any) -> Channel:
        """A fresh channel holding checkpointed `data` (MISSING when the key was absent)."""
        ch = self.clone()
        if data is not MISSING:
            ch.value = data
        return ch

    def dump(self) -> Any:
        """The JSON form stored in the checkpoint, or MISSING to leave the key out."""
        return self.value

    def update(self, values: Sequence[Any]) -> bool:
        raise NotImplementedError

    def get(self) -> Any:
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING

    def consume(self) -> bool:
        return False

    def finish(self) -> bool:
        return False


class LastValue(Channel):
    kind = "last_value"

    def clone(self) -> LastValue:
        ch = LastValue()
        ch.key = self.key
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. "
                "Use an Annotated key to handle multiple values."
            )
        self.value = values[-1]
        return True


def _strip(typ: Any) -> Any:
    origin = get_origin(typ)
    if origin in (Required, NotRequired):
        return _strip(get_args(typ)[0])
    if origin is not None and origin is not collections.abc.Callable:
        return _strip(origin)
    return typ


def _base_type(typ: Any) -> Any:
    typ = _strip(typ)
    if typ in (collections.abc.Sequence, collections.abc.MutableSequence):
        return list
    if typ in (collections.abc.Set, collections.abc.MutableSet):
        return set
    if typ in (collections.abc.Mapping, collections.abc.MutableMapping):
        return dict
    return typ


def is_overwrite(value: Any) -> tuple[bool, Any]:
    """LangGraph's Overwrite in its JSON forms: {"__overwrite__": v} or {"type": "__overwrite__", "value": v}."""
    if isinstance(value, dict):
        if len(value) == 1 and OVERWRITE in value:
            return True, value[OVERWRITE]
        if value.get("type") == OVERWRITE and "value" in value:
            return True, value["value"]
    if type(value).__name__ == "Overwrite" and hasattr(value, "value"):
        return True, value.value
    return False, None


class BinaryOperatorAggregate(Channel):
    kind = "reducer"

    def __init__(self, typ: Any, operator: Callable[[Any, Any], Any]) -> None:
        super().__init__()
        self.typ = _base_type(typ)
        self.operator = operator
        self.value = self._initial()

    def _initial(self) -> Any:
        try:
            return self.typ() if isinstance(self.typ, type) else MISSING
        except Exception:
            return MISSING

    def clone(self) -> BinaryOperatorAggregate:
        ch = BinaryOperatorAggregate.__new__(BinaryOperatorAggregate)
        Channel.__init__(ch)
        ch.key, ch.typ, ch.operator = self.key, self.typ, self.operator
        ch.value = ch._initial()
        return ch

    def load(self, data: Any) -> Channel:
        ch = self.clone()
        if data is not MISSING:
            # JSON has no sets/tuples: give the reducer back the type it was declared with
            if self.typ in (set, frozenset, tuple) and isinstance(data, list):
                data = self.typ(data)
            ch.value = data
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if self.value is MISSING:
            self.value = values[0]
            values = values[1:]
        seen_overwrite = False
        for value in values:
            overwrite, new = is_overwrite(value)
            if overwrite:
                if seen_overwrite:
                    raise InvalidUpdateError(f"At key '{self.key}': Can receive only one Overwrite value per step.")
                self.value = new
                seen_overwrite = True
            elif not seen_overwrite:
                self.value = self.operator(self.value, value)
        return True


class EphemeralValue(Channel):
    kind = "ephemeral"

    def __init__(self, guard: bool = False) -> None:
        super().__init__()
        self.guard = guard

    def clone(self) -> EphemeralValue:
        ch = EphemeralValue(self.guard)
        ch.key = self.key
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            if self.value is not MISSING:
                self.value = MISSING
                return True
            return False
        if len(values) != 1 and self.guard:
            raise InvalidUpdateError(f"At key '{self.key}': EphemeralValue(guard=True) can receive one value per step.")
        self.value = values[-1]
        return True


class NamedBarrierValue(Channel):
    """Available once every name in `names` has written; consumed by the node it triggers."""

    kind = "barrier"

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = frozenset(names)
        self.seen: set[str] = set()

    def clone(self) -> NamedBarrierValue:
        ch = NamedBarrierValue(sorted(self.names))
        ch.key = self.key
        return ch

    def load(self, data: Any) -> Channel:
        ch = self.clone()
        if data is not MISSING:
            ch.seen = set(data)
        return ch

    def dump(self) -> Any:
        return sorted(self.seen) if self.seen else MISSING

    def update(self, values: Sequence[Any]) -> bool:
        updated = False
        for value in values:
            if value not in self.names:
                raise InvalidUpdateError(f"At key '{self.key}': Value {value} not in {sorted(self.names)}")
            if value not in self.seen:
                self.seen.add(value)
                updated = True
        return updated

    def get(self) -> Any:
        return None

    def is_available(self) -> bool:
        return self.seen == self.names

    def consume(self) -> bool:
        if self.seen == self.names:
            self.seen = set()
            return True
        return False


class Topic(Channel):
    """Pending Send packets for the next superstep (JSON: list of {"node", "arg"})."""

    kind = "topic"

    def __init__(self) -> None:
        super().__init__()
        self.values: list[Any] = []

    def clone(self) -> Topic:
        ch = Topic()
        ch.key = self.key
        return ch

    def load(self, data: Any) -> Channel:
        ch = self.clone()
        if data is not MISSING:
            ch.values = list(data)
        return ch

    def dump(self) -> Any:
        return list(self.values) if self.values else MISSING

    def update(self, values: Sequence[Any]) -> bool:
        updated = bool(self.values)
        self.values = []
        for v in values:
            items = v if isinstance(v, list) else [v]
            for item in items:
                self.values.append(item.to_json() if isinstance(item, Send) else item)
                updated = True
        return updated

    def get(self) -> Any:
        return list(self.values)

    def is_available(self) -> bool:
        return bool(self.values)


def check_reducer(fn: Any, key: str) -> None:
    """A reducer takes exactly two positional arguments (a, b) -> c, like LangGraph requires."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return  # builtins such as operator.add have no introspectable signature on some versions
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2 and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise InvalidGraphError(
            f"Invalid reducer signature for state key '{key}'. Expected (a, b) -> c. Got {inspect.signature(fn)}"
        )


def channel_for_annotation(key: str, annotation: Any) -> Channel:
    """The channel a state field gets from its annotation (`Annotated[T, reducer]` -> reducer)."""
    if get_origin(annotation) in (Required, NotRequired):
        annotation = get_args(annotation)[0]
    metadata = getattr(annotation, "__metadata__", ())
    ch: Channel
    if metadata and callable(metadata[-1]) and not isinstance(metadata[-1], type):
        check_reducer(metadata[-1], key)
        ch = BinaryOperatorAggregate(annotation.__origin__, metadata[-1])
    else:
        ch = LastValue()
    ch.key = key
    return ch
