"""The chaos harness's clients: a mixed workload through `langgraph-sdk`, retrying as real clients do.

Job kinds (by index): chains, `Send` fan-outs, human-in-the-loop runs resumed once, human-in-the-loop
runs resumed twice at the same moment (`multitask_strategy="reject"`: one must win), and streamed chains
whose client drops the connection after a few frames and rejoins with `Last-Event-ID`.

Retries: a connection error or a 5xx is retried (each counted). A request that may have been applied
before its connection broke is never blindly repeated: a run creation first looks at the thread's runs
and adopts the run it finds (threads are created with client-chosen ids, `if_exists="do_nothing"`).
A 503 with a `{"detail", "code"}` body is the API saying the database is away: counted apart; any other
5xx is recorded with its time (the verifier drops the ones inside the API's own kill window).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.errors import APIConnectionError

KINDS = ["chain", "fanout", "chain", "hitl", "stream", "chain", "hitl2", "fanout"]
TERMINAL = {"success", "error", "interrupted", "timeout"}


class GaveUp(Exception):
    pass


@dataclass
class Job:
    index: int
    kind: str
    key: str
    thread_id: str
    width: int = 0
    run_ids: list[str] = field(default_factory=list)  # runs the API acknowledged (or we adopted)
    statuses: dict[str, str] = field(default_factory=dict)
    resume_codes: list[int] = field(default_factory=list)  # hitl2: 200 accepted, 409 rejected, 0 unknown
    stream_ids: list[str] = field(default_factory=list)  # hitl2 / stream: ids received across the rejoins
    full_ids: list[str] = field(default_factory=list)
    rejoins: int = 0
    segments: list[str] = field(default_factory=list)  # stream: what each connection delivered, how it ended
    error: str = ""


@dataclass
class Stats:
    retries: int = 0
    unavailable_503: int = 0
    http_5xx: list[tuple[float, int, str]] = field(default_factory=list)  # (wall clock, status, body)


@dataclass
class Workload:
    url: str
    ledger: Path
    runs: int
    clients: int = 16
    op_deadline: float = 180.0
    stats: Stats = field(default_factory=Stats)
    jobs: list[Job] = field(default_factory=list)
    done: int = 0

    def __post_init__(self) -> None:
        self.client = get_client(url=self.url, api_key=None, timeout=(5.0, 30.0, 30.0, 5.0))
        for i in range(self.runs):
            kind = KINDS[i % len(KINDS)]
            self.jobs.append(Job(i, kind, f"{kind}-{i}", str(uuid.uuid4()),
                                 width=random.randint(3, 6) if kind == "fanout" else 0))

    # -- retries --------------------------------------------------------------------------------------
    def _transient(self, exc: BaseException) -> bool:
        """Whether `exc` is retried; counts it (and records a 5xx)."""
        if isinstance(exc, APIConnectionError | httpx.TransportError):
            self.stats.retries += 1
            return True
        if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500:
            self.stats.retries += 1
            body = exc.response.text if not exc.response.is_stream_consumed or exc.response.content else ""
            try:
                clear = exc.response.status_code == 503 and {"detail", "code"} <= set(exc.response.json())
            except Exception:
                clear = False
            if clear:
                self.stats.unavailable_503 += 1
            else:
                self.stats.http_5xx.append((time.time(), exc.response.status_code, body[:300]))
            return True
        return False

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.op_deadline
        while True:
            try:
                return await fn()
            except Exception as exc:
                if not self._transient(exc):
                    raise
                if time.monotonic() > deadline:
                    raise GaveUp(repr(exc)) from exc
                await asyncio.sleep(random.uniform(0.2, 0.6))

    async def _thread_runs(self, tid: str) -> list[dict[str, Any]]:
        runs = await self.call(lambda: self.client.runs.list(tid, limit=100))
        return sorted(runs, key=lambda r: r["created_at"])

    async def create_run(self, job: Job, before: int, **kw: Any) -> str:
        """One run on `job`'s thread, which already has `before` runs; adopts the run an earlier attempt made.
        Every attempt carries the same Idempotency-Key: a create whose COMMIT was cut off by a database
        restart is ambiguous (the server retries it, and so does this client), and the key makes its
        repeat return the run the first attempt made instead of a second one."""
        deadline = time.monotonic() + self.op_deadline
        key = {"Idempotency-Key": f"{job.key}/run{before}"}
        while True:
            try:
                run = await self.client.runs.create(job.thread_id, job.kind.rstrip("2").replace("stream", "chain"),
                                                    headers=key, **kw)
                return str(run["run_id"])
            except Exception as exc:
                if not self._transient(exc) or time.monotonic() > deadline:
                    raise
            runs = await self._thread_runs(job.thread_id)
            if len(runs) > before:
                return str(runs[before]["run_id"])
            await asyncio.sleep(random.uniform(0.2, 0.6))

    async def wait(self, job: Job, rid: str) -> str:
        deadline = time.monotonic() + self.op_deadline
        while True:
            run = await self.call(lambda: self.client.runs.get(job.thread_id, rid))
            if run["status"] in TERMINAL or time.monotonic() > deadline:
                job.statuses[rid] = run["status"]
                return str(run["status"])
            await asyncio.sleep(0.5)

    # -- jobs -----------------------------------------------------------------------------------------
    def _input(self, job: Job) -> dict[str, Any]:
        base: dict[str, Any] = {"ledger": str(self.ledger), "key": job.key}
        return base | ({"width": job.width} if job.kind == "fanout" else {})

    async def run_job(self, job: Job) -> None:
        await self.call(lambda: self.client.threads.create(thread_id=job.thread_id, if_exists="do_nothing"))
        if job.kind == "stream":
            await self._streamed(job)
            return
        rid = await self.create_run(job, 0, input=self._input(job))
        job.run_ids.append(rid)
        status = await self.wait(job, rid)
        if job.kind in ("hitl", "hitl2") and status == "success" and await self._waits_for_answer(job):
            if job.kind == "hitl":
                job.run_ids.append(await self.create_run(job, 1, command={"resume": "yes"}))
            else:
                job.resume_codes = list(await asyncio.gather(self._racing_resume(job), self._racing_resume(job)))
                job.run_ids += [str(r["run_id"]) for r in (await self._thread_runs(job.thread_id))[1:]]
            for rid in job.run_ids[1:]:
                await self.wait(job, rid)

    async def _waits_for_answer(self, job: Job) -> bool:
        thread = await self.call(lambda: self.client.threads.get(job.thread_id))
        if thread["status"] != "interrupted":
            job.error = f"thread {thread['status']} after its first run, not interrupted"
        return bool(thread["status"] == "interrupted")

    async def _racing_resume(self, job: Job) -> int:
        deadline = time.monotonic() + self.op_deadline
        while True:
            try:
                await self.client.runs.create(job.thread_id, "hitl", command={"resume": "yes"},
                                              multitask_strategy="reject")
                return 200
            except httpx.HTTPStatusError as exc:
                if exc.response is not None and exc.response.status_code == 409:
                    return 409
                if not self._transient(exc) or time.monotonic() > deadline:
                    raise
            except httpx.TransportError as exc:
                if not self._transient(exc) or time.monotonic() > deadline:
                    raise
            if len(await self._thread_runs(job.thread_id)) > 1:
                return 0  # a resume run exists: maybe ours, maybe the other's; the verifier counts the runs
            await asyncio.sleep(random.uniform(0.2, 0.6))

    async def _streamed(self, job: Job) -> None:
        modes: list[Literal["updates"]] = ["updates"]
        drop_after = random.randint(2, 4)
        rid: str | None = None
        try:
            parts = self.client.runs.stream(job.thread_id, "chain", input=self._input(job), stream_mode=modes,
                                            on_disconnect="continue", headers={"Idempotency-Key": f"{job.key}/stream"})
            async for part in parts:
                if part.event == "metadata" and rid is None:
                    rid = str(part.data["run_id"])
                if part.id is not None:
                    job.stream_ids.append(part.id)
                if len(job.stream_ids) >= drop_after:
                    break  # the client goes away mid-stream
            await parts.aclose()  # type: ignore[attr-defined]
            job.segments.append(f"first: {job.stream_ids} dropped")
        except Exception as exc:
            if not self._transient(exc):
                raise
            job.segments.append(f"first: {job.stream_ids} {type(exc).__name__}")
        if rid is None:
            runs = await self._thread_runs(job.thread_id)
            if not runs:  # the request never arrived: a streamed run created again, this time without stream
                rid = await self.create_run(job, 0, input=self._input(job))
                job.stream_ids = []
            else:
                rid = str(runs[0]["run_id"])
        job.run_ids.append(rid)
        while True:  # rejoin from the last id received until the run has ended and its stream closed
            job.rejoins += 1
            last = job.stream_ids[-1] if job.stream_ids else "0"
            got: list[str] = []
            try:
                async for part in self.client.runs.join_stream(job.thread_id, rid, stream_mode=modes,
                                                               last_event_id=last):
                    if part.id is not None:
                        got.append(part.id)
                        job.stream_ids.append(part.id)
                    _raise_on_error_frame(part)
            except Exception as exc:
                job.segments.append(f"rejoin from {last}: {got} {type(exc).__name__}")
                if not self._transient(exc):
                    raise
                await asyncio.sleep(random.uniform(0.2, 0.6))
                continue
            status = await self.wait(job, rid)
            job.segments.append(f"rejoin from {last}: {got} closed, run {status}")
            if status in TERMINAL or job.rejoins > 30:
                break

        async def full() -> list[str]:
            ids: list[str] = []
            async for part in self.client.runs.join_stream(job.thread_id, rid, stream_mode=modes, last_event_id="0"):
                if part.id is not None:
                    ids.append(part.id)
                _raise_on_error_frame(part)
            return ids

        job.full_ids = await self.call(full)

    async def run(self) -> None:
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in self.jobs:
            queue.put_nowait(job)

        async def client_loop() -> None:
            while not queue.empty():
                job = queue.get_nowait()
                try:
                    await self.run_job(job)
                except Exception as exc:  # reported per job; the verifier counts its runs
                    job.error = f"{type(exc).__name__}: {exc}"[:300]
                self.done += 1

        await asyncio.gather(*(client_loop() for _ in range(self.clients)))


def _raise_on_error_frame(part: Any) -> None:
    """A stream the server ended with an `error` frame (the database stayed away longer than the stream's
    outage bound: api/stream.py) did not deliver the rest of the run: a client joins again from its last id,
    as it does after a dropped connection."""
    if part.event == "error":
        raise httpx.TransportError(f"stream ended by an error frame: {part.data}")
