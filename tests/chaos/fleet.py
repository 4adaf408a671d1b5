"""The production shape as separate OS processes owned by the chaos harness, and the faults it injects.

One embedded PostgreSQL (durable: fsync on), one `nats-server -js`, `duragraph migrate`, `duragraph api`,
worker and relay processes (`python -m duragraph.cli ...`, each in its own session and log file). Every
fault is logged with its wall-clock time and its time since the start; the API's kill window (from the
SIGKILL until it answers again) is kept, as the only span in which a 5xx is not counted.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from duragraph.services import EmbeddedNats, EmbeddedPostgres, free_port
from tests.chaos import graphs


@dataclass
class Fault:
    at: float  # wall clock
    what: str


@dataclass
class Fleet:
    tmp: Path
    workers: int = 3
    concurrency: int = 8
    stalled_after: float = 3.0
    reaper_interval: float = 1.0
    quiet: bool = False
    pg: EmbeddedPostgres = field(init=False)
    nats: EmbeddedNats = field(init=False)
    port: int = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    api_down: list[tuple[float, float]] = field(default_factory=list)  # API kill windows (wall clock)
    kills: list[tuple[int, float]] = field(default_factory=list)  # (worker pid, wall clock of its SIGKILL)
    started: float = field(default_factory=time.time)
    _generation: int = 0

    def __post_init__(self) -> None:
        self.logs = self.tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.ledger = self.tmp / "ledger"
        self.ledger.mkdir(exist_ok=True)
        self.config = self.tmp / "duragraph.json"
        src = Path(graphs.__file__).resolve()
        self.config.write_bytes(orjson.dumps({"graphs": {g: f"{src}:{g}" for g in ("chain", "fanout", "hitl")}}))
        self.pg = EmbeddedPostgres(self.tmp / "postgres", durable=True)
        self.nats = EmbeddedNats(self.tmp / "nats")
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, what: str) -> None:
        now = time.time()
        self.faults.append(Fault(now, what))
        if not self.quiet:
            stamp = time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"
            print(f"[{stamp} +{now - self.started:6.1f}s] {what}", file=sys.stderr, flush=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.pg.dsn, "NATS_URL": self.nats.url,
                "DURAGRAPH_CONFIG": str(self.config), "PORT": str(self.port),
                "DURAGRAPH_STALLED_AFTER": str(self.stalled_after),
                "DURAGRAPH_REAPER_INTERVAL": str(self.reaper_interval), "PYTHONUNBUFFERED": "1"}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        self._generation += 1
        with open(self.logs / f"{name}.log", "ab") as out:
            out.write(f"--- start #{self._generation} at {time.time():.3f}\n".encode())
            out.flush()
            proc = subprocess.Popen([sys.executable, "-m", "duragraph.cli", "-v", *args], env=self.env(),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    # -- start and stop -------------------------------------------------------------------------------
    def start(self) -> None:
        self.pg.start()
        self.nats.start()
        subprocess.run([sys.executable, "-m", "duragraph.cli", "migrate"], env=self.env(), check=True,
                       capture_output=True, timeout=120)
        self.start_api()
        for i in range(self.workers):
            self._spawn(f"worker{i}", "worker", "--concurrency", str(self.concurrency))
        for i in range(2):
            self._spawn(f"relay{i}", "relay")
            if i == 0:
                self._wait(lambda: self.active_relay() is not None, 60, "a relay active")
        self.log(f"up: postgres :{self.pg.port}, nats :{self.nats.port}, api :{self.port}, "
                 f"{self.workers} workers, 2 relays")

    def start_api(self) -> None:
        """Start the API and wait for GET /ok; it refuses to start while the database is away: retried."""
        deadline = time.monotonic() + 90
        while True:
            proc = self._spawn("api", "api")
            try:
                self._wait(functools.partial(self._api_ok, proc), 30, "GET /ok")
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                time.sleep(0.5)

    def _api_ok(self, proc: subprocess.Popen[bytes]) -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"api exited with {proc.returncode}")
        try:
            return httpx.get(f"{self.url}/ok", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    @staticmethod
    def _wait(check: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not within {within}s")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.nats.stop()
        self.pg.stop()

    def exited(self) -> dict[str, int]:
        """Processes that exited by themselves (not killed by the harness): name -> exit code."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    # -- faults ---------------------------------------------------------------------------------------
    def _kill(self, name: str) -> int:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return proc.pid

    def kill_worker(self) -> None:
        name = random.choice([n for n in self.procs if n.startswith("worker")])
        pid = self._kill(name)
        self.kills.append((pid, time.time()))
        self.log(f"SIGKILL {name} (pid {pid})")
        new = self._spawn(name, "worker", "--concurrency", str(self.concurrency))
        self.log(f"restarted {name} (pid {new.pid})")

    def active_relay(self) -> str | None:
        """The relay whose log last says it became active (and not that it stopped being so)."""
        for name in ("relay0", "relay1"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            current = text.rsplit("--- start #", 1)[-1]
            if "relay: active" in current and "no longer active" not in current.rsplit("relay: active", 1)[-1]:
                return name
        return None

    def kill_active_relay(self) -> None:
        deadline = time.monotonic() + 20  # right after a PostgreSQL restart the relays are taking the lock again
        while (name := self.active_relay()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if name is None:
            self.log("no active relay to kill")
            return
        pid = self._kill(name)
        self.log(f"SIGKILL active relay {name} (pid {pid})")
        self._spawn(name, "relay")
        self.log(f"restarted {name} as a standby")

    def restart_nats(self) -> None:
        self.nats.kill()
        self.log("SIGKILL nats-server")
        self.nats.start()  # same port, same JetStream store
        self.log("nats-server started on the same store")

    def restart_postgres(self, down_for: float) -> None:
        self.pg.stop("immediate")
        self.log(f"pg_ctl stop -m immediate (down {down_for:g}s)")
        time.sleep(down_for)
        self.pg.start()
        self.log("PostgreSQL started")

    def restart_api(self) -> None:
        began = time.time()
        pid = self._kill("api")
        self.log(f"SIGKILL api (pid {pid})")
        self.start_api()
        self.api_down.append((began, time.time()))
        self.log("api answering again")
