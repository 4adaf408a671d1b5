"""The one place state size is measured: on the serialized form the durable layer stores.

Whatever a state value holds (JSON, LangChain messages...), what counts is what is written to Postgres:
a run's input, a node's result (its writes), a step's checkpoint documents with the channel values they
bring (engine/durable/blobs.py), a state update. Over the limit (`Runtime.state_bytes`,
DURAGRAPH_MAX_STATE_BYTES), nothing of it is stored: the API answers 413; a step fails with this error
and its run ends `error`, leaving the last good checkpoint as the thread's head.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import StateTooLarge


def stored_size(text: str | bytes | int) -> int:
    """Bytes of a stored JSON text (its UTF-8 length; ASCII text is counted without encoding), of a binary
    value, or a size measured already (a channel value serialized before it was deflated)."""
    if isinstance(text, int):
        return text
    if isinstance(text, bytes):
        return len(text)
    return len(text) if text.isascii() else len(text.encode())


def check_stored(texts: str | bytes | Iterable[str | bytes | int | None] | None, limit: int | None,
                 what: str) -> None:
    """Raise StateTooLarge when `texts` (the JSON about to be stored together, as text or UTF-8 bytes, or
    the sizes of values serialized already) are over `limit` bytes."""
    if texts is None or limit is None:
        return
    parts = [texts] if isinstance(texts, str | bytes) else [t for t in texts if t is not None]
    if sum(t if isinstance(t, int) else len(t) for t in parts) * 4 <= limit:
        return
    size = sum(stored_size(t) for t in parts)
    if size > limit:
        raise StateTooLarge(f"{what} is {size} bytes serialized, over the state limit of {limit} bytes "
                            "(DURAGRAPH_MAX_STATE_BYTES); nothing of it was stored")
