"""PostgreSQL restarts under load, with the product defaults (issue 19's benchmark-sized run).

    python benchmarks/db_restarts.py [--runs-per-wave 300] [--workers 3] [--concurrency 10]
                                     [--stalled-after 15] [--reaper-interval 2] [--outages 2,20,2]

The scenario of tests/acceptance/test_db_restart.py (tests/acceptance/db_outage.py): worker processes
(`duragraph worker`) against an embedded, durable PostgreSQL; before each restart a wave of runs is
created and left in flight, then the server is stopped with `pg_ctl stop -m immediate` and started again
after the given outage; one more worker is started during the longest outage. Reports final statuses,
the time from the last restart until every run ended, worker exits, workers declared dead, steps
committed twice and steps that ran in two processes at once. Exit 1 if any of those is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.acceptance.db_outage import Scenario, run_scenario


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs-per-wave", type=int, default=300)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--stalled-after", type=float, default=15.0)
    p.add_argument("--reaper-interval", type=float, default=2.0)
    p.add_argument("--outages", default="2,20,2", help="seconds down, one per restart")
    p.add_argument("--pause", type=float, default=0.1, help="each node's sleep")
    p.add_argument("--settle-within", type=float, default=180.0)
    args = p.parse_args()
    sc = Scenario(runs_per_wave=args.runs_per_wave, workers=args.workers, concurrency=args.concurrency,
                  stalled_after=args.stalled_after, reaper_interval=args.reaper_interval,
                  outages=tuple(float(x) for x in args.outages.split(",")), pause=args.pause,
                  settle_within=args.settle_within)
    with tempfile.TemporaryDirectory(prefix="duragraph-restarts-") as tmp:
        report = asyncio.run(run_scenario(sc, Path(tmp)))
    total = sc.runs_per_wave * len(sc.outages)
    print(f"workers {sc.workers} x concurrency {sc.concurrency}, STALLED_AFTER {sc.stalled_after:g}s, "
          f"reaper every {sc.reaper_interval:g}s, outages {list(sc.outages)} s")
    print(f"runs                       {report.runs} ({dict(report.statuses)})")
    print(f"in flight at each restart  {report.in_flight_at_restart}")
    print(f"all ended after last restart {report.settled_after:.1f}s")
    print(f"worker exit codes          {report.worker_exits} (None: still running)")
    print(f"declared dead              {report.declared_dead}")
    print(f"late worker waited         {report.late_worker_waited}; registered at end {report.registered_at_end}")
    print(f"committed twice / gaps     {len(report.committed_twice)} / {len(report.gaps)}")
    print(f"ran concurrently twice     {len(report.concurrent_twice)}")
    ok = (report.statuses == {"success": total} and all(c is None for c in report.worker_exits)
          and report.declared_dead == 0 and not report.committed_twice and not report.gaps
          and not report.concurrent_twice)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
