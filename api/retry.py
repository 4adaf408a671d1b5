"""Transient database failures inside a write route are retried by the server, not the client.

A middleware around every route (inside Litestar's per-route exception handler, which turns the
failure into a response): when a write route's answer is the one for a transient database error
(api.errors.transient: a deadlock, a serialization failure, a lost connection; marked by
`api.errors.TRANSIENT_MARK`), that answer is held back and the route runs again, with the kept
request body, a fresh pooled connection and a short backoff, when nothing of the failed attempt
committed (a conflict PostgreSQL rolled back, a connection that could not be made, a transaction block
cut off before its COMMIT), so nothing is done twice. When the connection was lost while a commit was in
flight (engine.durable.outage.outcome_unknown), the route runs again only if the request carries an
`Idempotency-Key` (a repeat then returns what the first attempt made); without one the 503 goes out at
once, saying the outcome is unknown. The last attempt's answer (503) goes out, without the mark.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import SAFE, TRANSIENT_MARK

log = logging.getLogger("duragraph.api")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ATTEMPTS = 6
BACKOFF_SECONDS = 0.05  # doubled per attempt: 0.05 ... 0.8 (1.55 s in all)
MARK = TRANSIENT_MARK.encode()
KEY_HEADER = b"idempotency-key"


def retry_transient(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") not in WRITE_METHODS:
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        keyed = any(k.lower() == KEY_HEADER for k, _ in scope.get("headers") or ())
        for attempt in range(1, ATTEMPTS + 1):
            out = _Answer(send, last=attempt == ATTEMPTS, keyed=keyed)
            await app(scope, _replay(body, receive), out.send)
            if not out.held:
                return
            log.warning("%s %s: transient database failure; retrying (attempt %d of %d)",
                        scope.get("method"), scope.get("path"), attempt + 1, ATTEMPTS)
            await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))

    return middleware


class _Answer:
    """One attempt's answer: passed on, unless it is marked transient and another attempt follows."""

    def __init__(self, send: Send, *, last: bool, keyed: bool) -> None:
        self._send = send
        self._last = last
        self._keyed = keyed
        self.held = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            mark = next((v for k, v in headers if k.lower() == MARK), None)
            if mark is not None:
                self.held = not self._last and (mark.decode() == SAFE or self._keyed)
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
