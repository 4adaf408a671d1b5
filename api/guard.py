"""Request guard: what a request may make the server read and parse, checked before any route runs.

An ASGI middleware (outside the routes, inside authentication) that, for a request with a body, reads it
with a size cap per route family and a deadline, and refuses JSON the routes must not see: nested
deeper than the limit (msgspec would hit Python's recursion limit), not UTF-8, a lone UTF-16 surrogate,
NUL characters (PostgreSQL cannot store them), a page `limit` over the maximum. The body is handed on
as it came, so Litestar decodes it as usual. Every refusal is `{"detail", "code"}` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from array import array
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qs

import msgspec

from duragraph.limits import Limits

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# a declared body over its limit by at most this factor is read and dropped before the 413 (larger: cut off)
DRAIN_FACTOR = 4
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# brackets -> +1 / -1 (as signed bytes), everything else deleted: a running sum is the nesting depth
_SIGN = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# raw ASGI (the messages are plain dicts here)
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refusal(Exception):
    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def body_cap(path: str, limits: Limits) -> tuple[int, str]:
    """The body size limit of a route family, and the variable that sets it."""
    if path.startswith("/store"):
        return limits.store_body_bytes, "DURAGRAPH_MAX_STORE_BODY_BYTES"
    if path.startswith(("/runs", "/threads", "/crons")):
        return limits.run_body_bytes, "DURAGRAPH_MAX_BODY_BYTES"
    return limits.other_body_bytes, "DURAGRAPH_MAX_OTHER_BODY_BYTES"


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), computed in C."""
    skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS).translate(_SIGN)
    return max(accumulate(array("b", skeleton)), default=0)


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL character is (a key or a string), as `a.b[2]`; None if nowhere."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body"
        elif isinstance(item, dict):
            for k, v in item.items():
                inner = f"{where}.{k}" if where else str(k)
                if "\x00" in k:
                    return inner.replace("\x00", "\\u0000")
                stack.append((v, inner))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


def inspect_json(body: bytes, limits: Limits) -> None:
    """Raise a Refusal for a JSON body the routes must not see."""
    depth = json_depth(body)
    if depth > limits.json_depth:
        raise Refusal(422, f"Request body is nested {depth} levels deep; at most {limits.json_depth} are "
                           "allowed (DURAGRAPH_MAX_JSON_DEPTH)", "nesting_too_deep")
    try:
        value = msgspec.json.decode(body)
    except UnicodeDecodeError as exc:
        raise Refusal(400, f"Request body is not valid UTF-8 (byte {exc.start})", "bad_request") from None
    except msgspec.DecodeError as exc:
        if _LONE_SURROGATE.search(body):
            raise Refusal(400, "Request body is not valid JSON: it holds a lone UTF-16 surrogate escape "
                               "(\\ud800-\\udfff without its pair), which is not text", "bad_request") from None
        raise Refusal(400, f"Request body is not valid JSON: {exc}", "bad_request") from None
    if b"\\u0000" in body:
        where = _nul_path(value)
        if where is not None:
            raise Refusal(422, f"{where}: text may not contain NUL (\\u0000) characters", "invalid_input")
    if isinstance(value, dict):
        _check_page(value.get("limit"), limits)


def _check_page(limit: Any, limits: Limits) -> None:
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > limits.page_size:
        raise Refusal(422, f"limit: {limit} is over the page size limit of {limits.page_size} "
                           "(DURAGRAPH_MAX_PAGE_SIZE); page with offset", "validation_error")


def _query_limit(scope: Scope, limits: Limits) -> None:
    raw = scope.get("query_string") or b""
    if b"limit=" not in raw:
        return
    for value in parse_qs(raw.decode("latin-1")).get("limit", []):
        if value.isdigit():
            _check_page(int(value), limits)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return True  # no content type: Litestar reads the body as JSON


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, refusal: Refusal) -> None:
    body = msgspec.json.encode({"detail": refusal.detail, "code": refusal.code})
    await send({"type": "http.response.start", "status": refusal.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *([(b"connection", b"close")] if refusal.status in (408, 413) else [])]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, cap: int, variable: str, timeout: float) -> bytes | None:
    """The whole body (None: the client went away), refused once over `cap` or late."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > cap:
                    raise Refusal(413, f"Request body is over {cap} bytes ({variable})", "payload_too_large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise Refusal(408, f"Request body not received within {timeout:g} s (DURAGRAPH_BODY_TIMEOUT)",
                      "request_timeout") from None


async def _drain(receive: Receive, timeout: float) -> None:
    """Read and drop a refused body (within the body deadline), so the client, still sending, can read
    the refusal instead of a reset connection."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    return


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # afterwards: the client's disconnect, as the route would see it

    return replayed


def request_guard(limits: Limits) -> Any:
    """The middleware factory for Litestar's `middleware=[...]`."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            try:
                _query_limit(scope, limits)
                if scope["method"] in BODY_METHODS:
                    cap, variable = body_cap(scope["path"], limits)
                    declared = _content_length(scope)
                    if declared is not None and declared > cap:
                        refusal = Refusal(413, f"Request body is {declared} bytes; at most {cap} are allowed "
                                               f"({variable})", "payload_too_large")
                        if declared <= DRAIN_FACTOR * cap:  # read (not kept) so the client sees the answer
                            await _drain(receive, limits.body_timeout_seconds)
                        raise refusal
                    body = await _read_body(receive, cap, variable, limits.body_timeout_seconds)
                    if body is None:
                        return
                    if body and _is_json(scope):
                        inspect_json(body, limits)
                    receive = _replay(body, receive)
            except Refusal as refusal:
                await _refuse(send, refusal)
                return
            await app(scope, receive, send)

        return guard

    return middleware

