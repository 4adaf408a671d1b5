"""The chaos suite (issue 10): the production shape under load while its processes die around it.

    python benchmarks/chaos.py [--runs 100] [--clients 16] [--seed N] [--keep DIR] [--verbose]

Starts one embedded PostgreSQL, one nats-server, `duragraph migrate`, `duragraph api`, three
`duragraph worker` and two `duragraph relay` as separate OS processes (tests/chaos/fleet.py); drives a
mixed workload through langgraph-sdk (tests/chaos/workload.py) while it SIGKILLs workers every 3-6 s,
the active relay, nats-server and the API, and restarts PostgreSQL twice (`pg_ctl stop -m immediate`);
then settles and checks the whole history (tests/chaos/verify.py). The faults are logged on stderr
with their times; the result is one line on stdout:

    chaos: runs=N lost=0 stuck=0 double_commits=0 duplicate_executions=K js_missing=0 js_duplicates=0
    js_out_of_order=0 seq_gaps=0 sse_resume_gaps=0 double_resume_accepted=P/P http_5xx=0 max_recovery_s=X

Exit 0 when every count that must be zero is (duplicate_executions may not be: execution is
at-least-once), 1 otherwise; with --verbose the violations found are listed on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.scenario import Options, run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100, help="jobs (a human-in-the-loop job is 2-3 runs)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seed", type=int)
    p.add_argument("--keep", type=Path, help="keep data and logs in this directory")
    p.add_argument("--verbose", action="store_true", help="list the violations and details on stderr")
    args = p.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="duragraph-chaos-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        verdict, info = asyncio.run(run(Options(runs=args.runs, clients=args.clients, seed=args.seed), tmp))
        print(verdict.line(), flush=True)
        print(f"details: {info}", file=sys.stderr)
        if args.verbose or not verdict.ok:
            for name in ("lost", "stuck", "double_commits", "sse_resume_gaps", "http_5xx"):
                for item in getattr(verdict, name)[:20]:
                    print(f"  {name}: {item}", file=sys.stderr)
        return 0 if verdict.ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
