"""Transient database failures inside a write route are retried by the server, not the client.

A middleware around every route (inside Litestar's per-route exception handler, which turns the
failure into a response): when a write route's answer is the one for a transient database error
(api.errors.transient: a deadlock, a serialization failure, a lost connection; marked by
`api.errors.TRANSIENT_MARK`), that answer is held back and the route runs again, with the kept
request body, a fresh pooled connection and a short backoff. Nothing of the failed attempt
committed (its transaction rolled back), so nothing is done twice; the one ambiguous case (the
connection lost during COMMIT) is what `Idempotency-Key` is for. The last attempt's answer (503)
goes out, without the mark.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import TRANSIENT_MARK

log = logging.getLogger("duragraph.api")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ATTEMPTS = 6
BACKOFF_SECONDS = 0.05  # doubled per attempt: 0.05 ... 0.8 (1.55 s in all)
MARK = TRANSIENT_MARK.encode()


def retry_transient(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") not in WRITE_METHODS:
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        for attempt in range(1, ATTEMPTS + 1):
            out = _Answer(send, last=attempt == ATTEMPTS)
            await app(scope, _replay(body, receive), out.send)
            if not out.held:
                return
            log.warning("%s %s: transient database failure; retrying (attempt %d of %d)",
                        scope.get("method"), scope.get("path"), attempt + 1, ATTEMPTS)
            await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))

    return middleware


class _Answer:
    """One attempt's answer: passed on, unless it is marked transient and another attempt follows."""

    def __init__(self, send: Send, *, last: bool) -> None:
        self._send = send
        self._last = last
        self.held = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            if any(k.lower() == MARK for k, _ in headers):
                self.held = not self._last
                message = {**message, "headers": [(k, v) for k, v in headers if k.lower() != MARK]}
        if not self.held:
            await self._send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Any = await receive()
        if message["type"] != "http.request":  # the client went away before sending its body
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The kept body once, then the real channel (where a disconnect arrives)."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
