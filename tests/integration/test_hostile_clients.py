"""Hostile and careless clients against the real server on real Postgres (issues 15 and 20).

Every case asserts the status and the `{"detail", "code"}` body, that nothing committed changed, and
that the server still answers an ordinary `runs.wait` correctly afterwards. The limits are set small
(the same code paths as the defaults, exercised with kilobytes instead of megabytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from duragraph.limits import Limits
from duragraph.settings import Settings
from engine.durable.worker import run_worker
from tests.integration import graphs as G
from tests.integration import hostile_graphs as H
from tests.integration.server import serve_api
from tests.support import eventually, sql_rows

KIB = 1024
LIMITS = Limits(run_body_bytes=256 * KIB, store_body_bytes=64 * KIB, other_body_bytes=32 * KIB, json_depth=50,
                state_bytes=64 * KIB, store_value_bytes=8 * KIB, page_size=100, pending_runs_per_thread=3,
                streams_per_client=3, streams_total=5, body_timeout_seconds=3.0)
GRAPHS = {"grow": H.grow(), "pair": H.pair(), "linear": G.linear(2), "looping": G.looping()}


@dataclasses.dataclass
class Stack:
    url: str
    dsn: str
    http: httpx.AsyncClient

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def fingerprint(self) -> list[Any]:
        """Everything committed that a refused request could have touched."""
        rows = await sql_rows(self.dsn, """
            SELECT (SELECT count(*) FROM threads), (SELECT count(*) FROM runs),
                   (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM store_items),
                   (SELECT count(*) FROM assistants),
                   (SELECT md5(coalesce(string_agg(thread_id::text || status || coalesce(checkpoint_id::text, ''), ','
                                                   ORDER BY thread_id), '')) FROM threads)""")
        return list(rows[0])

    async def assert_healthy(self) -> None:
        """An ordinary run on a fresh thread gives the right answer."""
        client = get_client(url=self.url, api_key=None)
        thread = await client.threads.create()
        out = await client.runs.wait(thread["thread_id"], "linear", input={"n": 1})
        assert out["n"] == 3 and out["trail"] == ["s0", "s1"], out


@contextlib.asynccontextmanager
async def stack(database_url: str) -> AsyncIterator[Stack]:
    settings = Settings(database_url=database_url, limits=LIMITS)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(database_url=database_url, graphs=GRAPHS, concurrency=4,  # type: ignore[arg-type]
                                            reaper_interval=0.5, stop=stop, install_signal_handlers=False,
                                            state_bytes=LIMITS.state_bytes))
    try:
        with serve_api(database_url, GRAPHS, settings=settings) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield Stack(url, database_url, http)
    finally:
        stop.set()
        await worker


def refused(response: httpx.Response, status: int, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code, body
    for word in words:
        assert word in body["detail"], body
    return body


@contextlib.asynccontextmanager
async def unchanged(s: Stack) -> AsyncIterator[None]:
    """The block's refused requests commit nothing; the server still runs graphs afterwards."""
    before = await s.fingerprint()
    yield
    assert await s.fingerprint() == before
    await s.assert_healthy()


def nested(depth: int) -> bytes:
    return b'{"metadata": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


async def test_oversize_bodies_and_deep_json_are_refused_before_work(database_url: str) -> None:
    async with stack(database_url) as s:
        tid = (await s.http.post("/threads", json={})).json()["thread_id"]
        async with unchanged(s):
            big = b'{"assistant_id": "linear", "input": {"n": "' + b"x" * (300 * KIB) + b'"}}'
            refused(await s.http.post(f"/threads/{tid}/runs/wait", content=big,
                                      headers={"content-type": "application/json"}),
                    413, "payload_too_large", "DURAGRAPH_MAX_BODY_BYTES")
            # no Content-Length (chunked): counted as it arrives, refused once over the cap
            answer = await asyncio.to_thread(_chunked_post, s.port, "/store/items/search", 64 * KIB + 1)
            assert answer.startswith(b"HTTP/1.1 413") and b"DURAGRAPH_MAX_STORE_BODY_BYTES" in answer, answer[:300]
            refused(await s.http.post("/assistants/search", json={"metadata": {"k": "x" * (40 * KIB)}}),
                    413, "payload_too_large", "DURAGRAPH_MAX_OTHER_BODY_BYTES")
            # 1,000 levels (8 KB): was a RecursionError and a 500; LangGraph answers 422
            refused(await s.http.post("/threads", content=nested(1000),
                                      headers={"content-type": "application/json"}),
                    422, "nesting_too_deep", "1001 levels")
            refused(await s.http.post("/threads/search", content=nested(60)), 422, "nesting_too_deep")
        ok = await s.http.post("/threads", content=nested(40), headers={"content-type": "application/json"})
        assert ok.status_code == 200, ok.text


async def test_bad_text_is_a_4xx_naming_the_problem(database_url: str) -> None:
    async with stack(database_url) as s, unchanged(s):
        body = refused(await s.http.post("/threads", content=b'{"metadata": {"a": "\xff\xfe"}}',
                                         headers={"content-type": "application/json"}), 400, "bad_request", "UTF-8")
        assert "byte" in body["detail"]
        refused(await s.http.post("/threads", content=b'{"metadata": {"a": "\\ud800"}}',
                                  headers={"content-type": "application/json"}), 400, "bad_request", "surrogate")
        refused(await s.http.post("/threads", json={"metadata": {"a": {"b": ["ok", "x\x00y"]}}}),
                422, "invalid_input", "metadata.a.b[1]", "NUL")
        refused(await s.http.post("/threads", content=b'{"metadata": ', headers={"content-type": "application/json"}),
                400, "bad_request", "not valid JSON")
        # outside a JSON body (a query parameter), PostgreSQL's refusal is put in the user's words
        nul = refused(await s.http.get("/store/items", params={"key": "a\x00b", "namespace": "x"}),
                      422, "invalid_input", "NUL")
        assert "0x00" not in nul["detail"]


async def test_state_over_the_limit_fails_cleanly_and_keeps_the_last_checkpoint(database_url: str) -> None:
    async with stack(database_url) as s:
        client = get_client(url=s.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        first = await client.runs.wait(tid, "grow", input={"n": 0, "size": 10})
        assert first["n"] == 1
        good = await client.threads.get_state(tid)
        async with unchanged(s):
            # an input over the state limit (under the body limit): refused before a run exists
            refused(await s.http.post(f"/threads/{tid}/runs", json={"assistant_id": "grow",
                                                                     "input": {"blob": "y" * (80 * KIB)}}),
                    413, "state_too_large", "DURAGRAPH_MAX_STATE_BYTES")
            refused(await s.http.post(f"/threads/{tid}/state", json={"values": {"blob": "z" * (80 * KIB)}}),
                    413, "state_too_large")
        # a node whose write is over the limit: its step fails with a clear error, nothing of it is stored
        with pytest.raises(Exception, match=r"StateTooLarge: The result of node 'grow' .*DURAGRAPH_MAX_STATE_BYTES"):
            await client.runs.wait(tid, "grow", input={"size": 100 * KIB})
        after = await client.threads.get_state(tid)  # the run's input was saved, the node's result was not
        assert after["values"] == {**good["values"], "size": 100 * KIB}
        assert after["next"] == ["grow"] and "DURAGRAPH_MAX_STATE_BYTES" in after["tasks"][0]["error"]["message"]
        assert (await client.threads.get(tid))["status"] == "error"
        big = await sql_rows(s.dsn, "SELECT max(octet_length(checkpoint::text)) FROM checkpoints")
        assert big[0][0] < LIMITS.state_bytes
        # the thread stays usable
        again = await client.runs.wait(tid, "grow", input={"size": 5})
        assert again["n"] == 2 and again["blob"] == "xxxxx"
        # each node's result is under the limit, the state they make together is not: the step fails at its
        # barrier and the thread keeps the checkpoint before it
        ptid = (await client.threads.create())["thread_id"]
        await client.runs.wait(ptid, "pair", input={"size": 3})
        before = await client.threads.get_state(ptid)
        with pytest.raises(Exception, match=r"StateTooLarge: The state after step \d+ is \d+ bytes"):
            await client.runs.wait(ptid, "pair", input={"size": 40 * KIB})
        head = (await client.threads.get_history(ptid, limit=1))[0]  # the checkpoint as saved
        assert head["values"]["left"] == "lll" and head["values"]["right"] == "rrr"
        assert head["checkpoint"]["checkpoint_id"] != before["checkpoint"]["checkpoint_id"]  # the input's
        big = await sql_rows(s.dsn, "SELECT max(octet_length(data)) FROM checkpoint_blobs")
        assert big[0][0] < 40 * KIB
        assert (await client.runs.wait(ptid, "pair", input={"size": 2}))["left"] == "ll"


async def test_store_values_pages_and_waiting_runs_are_bounded(database_url: str) -> None:
    async with stack(database_url) as s:
        tid = (await s.http.post("/threads", json={})).json()["thread_id"]
        async with unchanged(s):
            refused(await s.http.put("/store/items", json={"namespace": ["a"], "key": "k",
                                                           "value": {"v": "x" * (10 * KIB)}}),
                    413, "payload_too_large", "DURAGRAPH_MAX_STORE_VALUE_BYTES")
            refused(await s.http.post(f"/threads/{tid}/history", json={"limit": 101}), 422, "validation_error",
                    "DURAGRAPH_MAX_PAGE_SIZE")
            refused(await s.http.get(f"/threads/{tid}/runs", params={"limit": 5000}), 422, "validation_error",
                    "DURAGRAPH_MAX_PAGE_SIZE")
            refused(await s.http.get(f"/threads/{tid}/runs", params={"offset": 2**70}), 422, "invalid_input", "offset")
        ok = await s.http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {"v": "small"}})
        assert ok.status_code == 204
        # runs waiting on one thread: three scheduled ones wait, the fourth is refused
        for _ in range(3):
            r = await s.http.post(f"/threads/{tid}/runs", json={"assistant_id": "linear", "after_seconds": 600})
            assert r.status_code == 200, r.text
        async with unchanged(s):
            refused(await s.http.post(f"/threads/{tid}/runs", json={"assistant_id": "linear"}),
                    429, "too_many_requests", "DURAGRAPH_MAX_PENDING_RUNS_PER_THREAD")
        await s.http.post("/runs/cancel", json={"thread_id": tid})


async def test_streams_per_client_and_in_total(database_url: str) -> None:
    async with stack(database_url) as s:
        tid = (await s.http.post("/threads", json={})).json()["thread_id"]
        async with contextlib.AsyncExitStack() as streams:
            async def open_from(http: httpx.AsyncClient) -> httpx.Response:
                return await streams.enter_async_context(http.stream("GET", f"{s.url}/threads/{tid}/stream"))

            for _ in range(3):
                assert (await open_from(s.http)).status_code == 200
            over = await s.http.get(f"/threads/{tid}/stream")
            refused(over, 429, "too_many_requests", "DURAGRAPH_MAX_STREAMS_PER_CLIENT")
            other = await streams.enter_async_context(
                httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"), timeout=30))
            for _ in range(2):
                assert (await open_from(other)).status_code == 200
            refused(await other.get(f"{s.url}/threads/{tid}/stream"), 429, "too_many_requests",
                    "DURAGRAPH_MAX_STREAMS")
            await s.assert_healthy()
        # the slots come back when the streams end
        async def reopened() -> bool:
            async with s.http.stream("GET", f"/threads/{tid}/stream") as r:
                return r.status_code == 200
        await eventually(reopened, what="a stream slot given back")


def _chunked_post(port: int, path: str, size: int) -> bytes:
    for sock in _raw(port):
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        while sent < size:
            n = min(8 * KIB, size - sent)
            sock.sendall(f"{n:x}\r\n".encode() + b" " * n + b"\r\n")
            sent += n
        return _recv_all(sock)
    raise AssertionError("unreachable")


def _recv_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def _raw(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


async def test_a_slow_body_is_cut_off(database_url: str) -> None:
    async with stack(database_url) as s, unchanged(s):
        port = s.port

        def slow_client() -> bytes:
            for sock in _raw(port):
                sock.sendall(b"POST /threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"metadata\":")
                return _recv_all(sock)
            raise AssertionError("unreachable")

        answer = await asyncio.to_thread(slow_client)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"code":"request_timeout"' in answer


async def test_first_hour_http_mistakes(database_url: str) -> None:
    """Issue 20's HTTP bullets: each a 4xx naming the field, or LangGraph's behaviour."""
    async with stack(database_url) as s:
        client = get_client(url=s.url, api_key=None)
        tid = (await client.threads.create())["thread_id"]
        async with unchanged(s):
            refused(await s.http.post(f"/threads/{tid}/runs/wait",
                                      json={"assistant_id": "linear", "config": {"recursion_limit": "x"}}),
                    422, "invalid_input", "config.recursion_limit")
            refused(await s.http.post(f"/threads/{tid}/runs",
                                      json={"assistant_id": "linear", "interrupt_before": ["nope"]}),
                    422, "invalid_input", "interrupt_before", "'nope'")
            empty = refused(await s.http.post(f"/threads/{tid}/runs", content=b"",
                                              headers={"content-type": "application/json"}), 422,
                            "validation_error")
            assert "data: 'data'" not in empty["detail"]
        head = await s.http.head("/ok")
        assert head.status_code == 200 and head.content == b""
        done = await client.runs.create(tid, "linear", input={"n": 0})
        await client.runs.join(tid, done["run_id"])
        refused(await s.http.post(f"/threads/{tid}/runs/{done['run_id']}/cancel"), 404, "not_found", "success")
        # after a recursion-limit error the failed task carries its error in get_state
        loop_tid = (await client.threads.create())["thread_id"]
        with pytest.raises(Exception, match="Recursion limit of 3"):
            await client.runs.wait(loop_tid, "looping", input={"n": 0}, config={"recursion_limit": 3})
        state = await client.threads.get_state(loop_tid)
        assert state["tasks"] and state["tasks"][0]["error"], state["tasks"]
        await s.assert_healthy()

