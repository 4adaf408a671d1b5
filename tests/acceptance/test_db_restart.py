"""PostgreSQL restarted under load, nothing else touched (issue 19): three worker processes, 300 runs
created in three waves, the server stopped with `pg_ctl stop -m immediate` and started again after each
wave (down 1 s, 5 s -- longer than STALLED_AFTER -- and 1 s). Every run must end `success` within 30 s
of the last restart, no worker may exit, no live worker may be declared dead, no step may be committed
twice, and no step may run in two processes at the same time. A fourth worker, started while the server
is down, waits for it (saying so) and joins in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.db_outage import Scenario, run_scenario

pytestmark = pytest.mark.acceptance


@pytest.mark.timeout(240)
async def test_postgres_restarts_under_load_strand_no_run_and_kill_no_worker(tmp_path: Path) -> None:
    sc = Scenario(runs_per_wave=100, workers=3, concurrency=10, stalled_after=3.0, reaper_interval=1.0,
                  outages=(1.0, 5.0, 1.0), settle_within=30.0)
    report = await run_scenario(sc, tmp_path)
    tail = report.logs[-6000:]
    print(f"runs {report.runs}, in flight at each restart {report.in_flight_at_restart}, all ended "
          f"{report.settled_after:.1f}s after the last restart; 'database unreachable' lines: "
          f"{report.unreachable_lines}")
    assert report.statuses == {"success": 3 * sc.runs_per_wave}, (report.statuses, tail)
    assert all(n > 0 for n in report.in_flight_at_restart), report.in_flight_at_restart
    assert report.worker_exits == [None] * (sc.workers + 1), (report.worker_exits, tail)
    assert report.late_worker_waited and report.registered_at_end == sc.workers + 1, tail
    assert report.declared_dead == 0, tail
    assert report.committed_twice == [] and report.gaps == []
    assert report.concurrent_twice == [], report.concurrent_twice
