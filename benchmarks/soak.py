"""Soak under hostile load: idle SSE streams and slow-body clients held open while ordinary clients run
graphs; compared with a calm run of the same ordinary clients (issue 15).

    python benchmarks/soak.py [--minutes 10] [--streams 2000] [--slow 200] [--clients 32] [--calm-minutes 2]

The server is the real thing in its own processes: `duragraph api`, `duragraph worker` and `duragraph relay`
on a fresh database (DATABASE_URL's server, else an embedded PostgreSQL) and an embedded NATS. Streams
come from 127.0.0.x source addresses (at most DURAGRAPH_MAX_STREAMS_PER_CLIENT per address, as a crowd
of clients would); a slow-body client declares a 1 KB body and sends one byte a second. Prints the
ordinary clients' p50/p99 latency and runs/s (calm and soak), the API process's RSS and open file
descriptors at the start and end of the soak, how many streams and slow clients were held, and every
5xx seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fresh_database import fresh_database  # noqa: E402

from duragraph.services import EmbeddedNats, free_port  # noqa: E402

GRAPH = '''
from typing import TypedDict
from langgraph.graph import END, START, StateGraph

class S(TypedDict, total=False):
    n: int

def step(state: S) -> dict:
    return {"n": state.get("n", 0) + 1}

builder = StateGraph(S)
builder.add_node("a", step)
builder.add_node("b", step)
builder.add_node("c", step)
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("b", "c")
builder.add_edge("c", END)
graph = builder.compile()
'''
PER_ADDRESS = 100


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    streams_open: int = 0
    slow_open: int = 0


def process_usage(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of a process, from /proc."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


@contextlib.contextmanager
def server(dsn: str, nats_url: str, workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    (workdir / "soak_graph.py").write_text(GRAPH)
    (workdir / "duragraph.json").write_text('{"graphs": {"soak": "./soak_graph.py:graph"}}')
    env = {**os.environ, "DATABASE_URL": dsn, "NATS_URL": nats_url, "DURAGRAPH_PORT": str(port),
           "PYTHONPATH": str(REPO), "DURAGRAPH_MAX_STREAMS_PER_CLIENT": str(PER_ADDRESS)}
    procs: list[subprocess.Popen[bytes]] = []
    log = open(workdir / "server.log", "ab")
    try:
        for command in ("api", "worker", "relay"):
            procs.append(subprocess.Popen([sys.executable, "-m", "duragraph.cli", command, "--config",
                                           str(workdir / "duragraph.json")], env=env, cwd=workdir, stdout=log,
                                          stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/ok", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"the API did not start; see {workdir / 'server.log'}")
            time.sleep(0.2)
        yield procs[0]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


async def ordinary_client(url: str, until: float, tally: Tally) -> int:
    """Create a thread and runs.wait on it, again and again; returns the runs completed."""
    done = 0
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while time.monotonic() < until:
            start = time.monotonic()
            try:
                tid = (await http.post("/threads", json={})).json()["thread_id"]
                r = await http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "soak", "input": {"n": 0}})
            except httpx.TransportError as exc:
                tally.other_errors.append(f"ordinary: {type(exc).__name__}")
                continue
            if r.status_code >= 500:
                tally.server_errors.append(f"runs.wait {r.status_code} {r.text[:120]}")
            elif r.status_code != 200 or r.json().get("n") != 3:
                tally.other_errors.append(f"runs.wait {r.status_code} {r.text[:120]}")
            else:
                tally.latencies.append(time.monotonic() - start)
                done += 1
    return done


async def calm_or_soak(url: str, clients: int, seconds: float, tally: Tally) -> tuple[int, float]:
    until = time.monotonic() + seconds
    start = time.monotonic()
    counts = await asyncio.gather(*(ordinary_client(url, until, tally) for _ in range(clients)))
    return sum(counts), time.monotonic() - start


def address_client(address: str) -> httpx.AsyncClient:
    """One client per source address, holding up to PER_ADDRESS connections (one per stream)."""
    transport = httpx.AsyncHTTPTransport(local_address=address,
                                         limits=httpx.Limits(max_connections=PER_ADDRESS + 1))
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30, read=None))


async def idle_stream(url: str, http: httpx.AsyncClient, tid: str, stop: asyncio.Event, tally: Tally) -> None:
    try:
        async with http.stream("GET", f"{url}/threads/{tid}/stream") as r:
            if r.status_code >= 500:
                tally.server_errors.append(f"stream {r.status_code}")
                return
            if r.status_code != 200:
                tally.other_errors.append(f"stream {r.status_code}")
                return
            tally.streams_open += 1
            try:
                reader = asyncio.ensure_future(r.aread())
                await asyncio.wait({reader, asyncio.ensure_future(stop.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)
                reader.cancel()
            finally:
                tally.streams_open -= 1
    except httpx.TransportError as exc:
        tally.other_errors.append(f"stream: {type(exc).__name__}")


async def slow_body(port: int, stop: asyncio.Event, tally: Tally) -> None:
    """POST /threads declaring 1 KB and sending a byte a second; reconnects when the server cuts it off."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            tally.other_errors.append(f"slow: {exc}")
            await asyncio.sleep(1)
            continue
        tally.slow_open += 1
        try:
            writer.write(b"POST /threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1024\r\n\r\n{")
            await writer.drain()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    head = await asyncio.wait_for(reader.read(64), timeout=1.0)
                    if head.startswith(b"HTTP/1.1 5"):
                        tally.server_errors.append(f"slow body: {head[:40]!r}")
                    break  # answered (408) or closed: a new connection
                writer.write(b" ")
                await writer.drain()
        except OSError:
            pass
        finally:
            tally.slow_open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def soak(args: argparse.Namespace, url: str, port: int, api_pid: int) -> None:
    calm = Tally()
    runs, seconds = await calm_or_soak(url, args.clients, args.calm_minutes * 60, calm)
    calm_rate = runs / seconds
    print(f"calm: {runs} runs in {seconds:.0f} s = {calm_rate:.1f} runs/s; p50 {pct(calm.latencies, 0.5):.0f} ms, "
          f"p99 {pct(calm.latencies, 0.99):.0f} ms; 5xx {len(calm.server_errors)}")

    hostile = Tally()
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url) as http:
        threads = [(await http.post("/threads", json={})).json()["thread_id"] for _ in range(20)]
    tasks = []
    clients: dict[str, httpx.AsyncClient] = {}
    for i in range(args.streams):
        address = f"127.0.{1 + i // (PER_ADDRESS * 250)}.{1 + (i // PER_ADDRESS) % 250}"
        http = clients.get(address) or clients.setdefault(address, address_client(address))
        tasks.append(asyncio.create_task(idle_stream(url, http, threads[i % len(threads)], stop, hostile)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # a crowd arriving, not one burst
    tasks.extend(asyncio.create_task(slow_body(port, stop, hostile)) for _ in range(args.slow))
    deadline = time.monotonic() + 60
    while hostile.streams_open < args.streams and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter
        await asyncio.sleep(0.5)
    rss0, fds0 = process_usage(api_pid)
    print(f"hostile load: {hostile.streams_open} idle SSE streams, {hostile.slow_open} slow-body clients; "
          f"API RSS {rss0:.0f} MiB, {fds0} fds")
    held_streams, held_slow = [], []

    async def sample() -> None:
        while not stop.is_set():
            held_streams.append(hostile.streams_open)
            held_slow.append(hostile.slow_open)
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    runs, seconds = await calm_or_soak(url, args.clients, args.minutes * 60, hostile)
    rate = runs / seconds
    rss1, fds1 = process_usage(api_pid)
    stop.set()
    await asyncio.gather(*tasks, sampler, return_exceptions=True)
    for http in clients.values():
        await http.aclose()
    print(f"soak: {runs} runs in {seconds:.0f} s = {rate:.1f} runs/s ({100 * (rate / calm_rate - 1):+.0f} % vs calm); "
          f"p50 {pct(hostile.latencies, 0.5):.0f} ms, p99 {pct(hostile.latencies, 0.99):.0f} ms")
    print(f"held during the soak: streams min {min(held_streams, default=0)} / mean "
          f"{statistics.mean(held_streams or [0]):.0f}; slow-body clients mean {statistics.mean(held_slow or [0]):.0f}")
    print(f"API RSS {rss0:.0f} -> {rss1:.0f} MiB ({rss1 - rss0:+.0f}); fds {fds0} -> {fds1}")
    print(f"5xx: {len(calm.server_errors) + len(hostile.server_errors)}"
          + "".join(f"\n  {e}" for e in (calm.server_errors + hostile.server_errors)[:20]))
    others = calm.other_errors + hostile.other_errors
    if others:
        print(f"other failures: {len(others)} (first: {others[:5]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--calm-minutes", type=float, default=2)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the client side holds every socket too
    with tempfile.TemporaryDirectory(prefix="duragraph-soak-") as tmp, fresh_database("soak") as dsn:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            port = free_port()
            with server(dsn, nats.url, Path(tmp), port) as api:
                asyncio.run(soak(args, f"http://127.0.0.1:{port}", port, api.pid))
        finally:
            nats.stop()


if __name__ == "__main__":
    main()
