"""The chaos suite at its small size (issue 10): 100 jobs through langgraph-sdk against the production
shape as OS processes while workers, the active relay, nats-server and the API are SIGKILLed and
PostgreSQL is restarted twice (tests/chaos/scenario.py). Every count of the result line that must be
zero is, every fault kind was injected, and no process exited by itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.scenario import Options, run

pytestmark = pytest.mark.acceptance


@pytest.mark.timeout(420)
async def test_chaos_small(tmp_path: Path) -> None:
    verdict, info = await run(Options(runs=100), tmp_path, quiet=True)
    print(verdict.line())
    print(info)
    for gap in verdict.sse_resume_gaps:  # (whole: the assertion's message is cut short)
        print("sse resume gap:", gap)
    faults = info["faults"]
    assert isinstance(faults, dict)
    assert faults["postgres"] >= 2 and all(n >= 1 for n in faults.values()), faults
    assert info["exited"] == {} and info["late_faults"] == [], info
    assert verdict.ok, (verdict.line(), verdict.lost[:5], verdict.stuck[:5], verdict.double_commits[:5],
                        verdict.sse_resume_gaps[:3], verdict.http_5xx[:5], verdict.unrecovered)
    assert verdict.runs == 125 and verdict.resume_pairs == 12
