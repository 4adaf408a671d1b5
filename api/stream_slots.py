"""How many SSE streams are open, per client address and in total: a new one over either limit is 429.

A slot is taken by the route before any work (a run is not created for a stream that cannot be served)
and given back when the stream's generator ends, or, for one never iterated (the client left before
the response started), when the generator is collected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

from engine.errors import TooMany


class Slot:
    def __init__(self, owner: StreamSlots, client: str) -> None:
        self._owner: StreamSlots | None = owner
        self.client = client

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.give_back(self.client)

    def __del__(self) -> None:
        self.release()


class StreamSlots:
    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    @property
    def open(self) -> int:
        return self._count

    def take(self, client: str) -> Slot:
        if self._count >= self.total:
            raise TooMany(f"The server holds {self.total} streams, its limit (DURAGRAPH_MAX_STREAMS); "
                          "try again later")
        if self._open[client] >= self.per_client:
            raise TooMany(f"{client} holds {self.per_client} streams, the limit per client address "
                          "(DURAGRAPH_MAX_STREAMS_PER_CLIENT); close one first")
        self._open[client] += 1
        self._count += 1
        return Slot(self, client)

    def give_back(self, client: str) -> None:
        self._count -= 1
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


async def holding(slot: Slot, gen: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`gen`, with `slot` given back when it ends (or is closed)."""
    try:
        async for chunk in gen:
            yield chunk
    finally:
        slot.release()
