"""One chaos run: the fleet up, the workload driven, faults injected meanwhile, settle, verify.

Faults: a random worker SIGKILLed every 3-6 s and restarted, for as long as the workload runs; and, at
fixed fractions of the workload's progress, the active relay SIGKILLed (again near the end, if the
workload still runs), PostgreSQL stopped with
`pg_ctl stop -m immediate` (down `pg_down[0]` s) and started, nats-server SIGKILLed and started on the
same store, the API SIGKILLed and started, and PostgreSQL restarted again (down `pg_down[1]` s, longer
than STALLED_AFTER). The faults run in threads: their waits never stall the clients.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.fleet import Fleet
from tests.chaos.verify import Verdict, details, settle, verify
from tests.chaos.workload import Workload


@dataclass(frozen=True)
class Options:
    runs: int = 100
    clients: int = 16
    workers: int = 3
    concurrency: int = 8
    stalled_after: float = 3.0
    reaper_interval: float = 1.0
    pg_down: tuple[float, float] = (1.0, 5.0)
    seed: int | None = None


def _one_shots(fleet: Fleet, opts: Options) -> list[tuple[float, bool, Callable[[], None]]]:
    """(fraction of the jobs done, required, fault): a required fault the workload outran still fires
    (and is reported late); the optional second relay kill is then skipped."""
    return [(0.12, True, fleet.kill_active_relay), (0.25, True, lambda: fleet.restart_postgres(opts.pg_down[0])),
            (0.4, True, fleet.restart_nats), (0.55, True, fleet.restart_api),
            (0.7, True, lambda: fleet.restart_postgres(opts.pg_down[1])), (0.85, False, fleet.kill_active_relay)]


async def run(opts: Options, tmp: Path, quiet: bool = False) -> tuple[Verdict, dict[str, object]]:
    if opts.seed is not None:
        random.seed(opts.seed)
    fleet = Fleet(tmp, workers=opts.workers, concurrency=opts.concurrency, stalled_after=opts.stalled_after,
                  reaper_interval=opts.reaper_interval, quiet=quiet)
    try:
        await asyncio.to_thread(fleet.start)
        wl = Workload(fleet.url, fleet.ledger, opts.runs, clients=opts.clients)
        stop = threading.Event()
        late: list[str] = []

        def kill_workers() -> None:
            while not stop.wait(random.uniform(3.0, 6.0)):
                fleet.kill_worker()

        def one_shots() -> None:
            for frac, required, fault in _one_shots(fleet, opts):
                while wl.done < frac * opts.runs and not stop.is_set():
                    time.sleep(0.1)
                if stop.is_set():
                    if not required:
                        continue
                    late.append(getattr(fault, "__name__", "postgres restart"))
                fault()

        threads = [threading.Thread(target=kill_workers), threading.Thread(target=one_shots)]
        for t in threads:
            t.start()
        try:
            await wl.run()
        finally:
            stop.set()
            for t in threads:
                await asyncio.to_thread(t.join)
        fleet.log(f"workload done ({opts.runs} jobs); faults stopped" +
                  (f"; fired after the workload ended: {late}" if late else ""))
        await settle(fleet)
        verdict = await verify(fleet, wl)
        info = details(verdict, wl, fleet) | {"exited": fleet.exited(), "late_faults": late}
        return verdict, info
    finally:
        await asyncio.to_thread(fleet.stop)
