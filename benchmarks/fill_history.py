"""Add N finished runs' worth of history to a DuraGraph database, set-based, in minutes.

    python benchmarks/fill_history.py --dsn postgresql://... --runs 1000000 [--chunk 50000]

Used by `benchmarks/api_throughput.py --fill N` (the 32-client figure before and after) and on its own.
The shapes come from a real run: the newest successful run in the database is the template, and each of
its rows in `threads`, `runs`, `tasks`, `checkpoints`, `checkpoint_blobs` and `events` is copied N times
by `INSERT ... SELECT ... FROM generate_series` (columns read from the catalog, so the copy follows the
schema). Ids are rewritten so that references hold within a copy (the checkpoint a task was planned
from, a checkpoint's parent, the thread's head); a copy's ids begin with its number, so they sort before
every live id (time-ordered uuids) and the indexes grow at their ends as they do in production. Timestamps
move back to when copy g would have run, history spread at `--rate` runs/s before now. JSON documents are
copied as they are (the template's own ids inside them): same sizes, no decoding.

A successful run leaves no procrastinate rows (the worker deletes a succeeded job and its events with
it), so `--jobs-per-run` (default 3, one per step) adds finished jobs with their three
`procrastinate_events` each, as procrastinate keeps them with its default `delete_jobs="never"`: the worst
case for the queue's tables. Their finish is placed in the history (within the default job retention), so
no retention job deletes them during a measurement that follows. A finished run leaves no outbox rows (the
relay deletes a row once it is published), so none are copied.

Each chunk commits on its own (`synchronous_commit = off` for this session only: this is not a step).
Then `VACUUM (ANALYZE)` of the tables it grew, and a `CHECKPOINT`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import asyncpg

# table -> how the template's rows are found (parameters: $1 run id, $2 thread id)
TEMPLATE = {
    "threads": "thread_id = $2",
    "runs": "run_id = $1",
    "checkpoints": "thread_id = $2",
    "checkpoint_blobs": "thread_id = $2",
    "tasks": "run_id = $1",
    "events": "run_id = $1",
}
# ids rewritten per copy (uuid or text); every other column is copied, serials take their default
ID_COLUMNS = {"thread_id", "run_id", "checkpoint_id", "parent_checkpoint_id", "event_id", "task_id",
              "replaced_by_run"}
SERIALS = {("events", "pos")}
FILLED = [*TEMPLATE, "procrastinate_jobs", "procrastinate_events"]

SETUP = """
CREATE OR REPLACE FUNCTION pg_temp.fill_id(g bigint, old text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT (lpad(to_hex(g), 12, '0') || substr(md5(old), 1, 20))::uuid $$
"""


@dataclass
class Filled:
    runs: int
    seconds: float
    rows: dict[str, int]
    bytes_before: dict[str, int]
    bytes_after: dict[str, int]
    vacuum_seconds: float

    def lines(self) -> list[str]:
        out = [f"filled {self.runs:,} runs in {self.seconds:.0f} s ({self.runs / self.seconds:,.0f} runs/s), "
               f"then VACUUM (ANALYZE) + CHECKPOINT in {self.vacuum_seconds:.0f} s"]
        out.append(f"  {'table':<22} {'rows added':>12} {'MB before':>10} {'MB after':>10}  (table + indexes + TOAST)")
        for t in FILLED:
            out.append(f"  {t:<22} {self.rows.get(t, 0):>12,} {self.bytes_before[t] / 2**20:>10,.0f} "
                       f"{self.bytes_after[t] / 2**20:>10,.0f}")
        total_b = sum(self.bytes_before.values()) / 2**30
        total_a = sum(self.bytes_after.values()) / 2**30
        out.append(f"  {'total':<22} {sum(self.rows.values()):>12,} {total_b * 1024:>10,.0f} {total_a * 1024:>10,.0f}"
                   f"  ({total_a - total_b:.1f} GiB added)")
        return out


async def sizes(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", t)) for t in FILLED}


async def template(conn: asyncpg.Connection) -> tuple[asyncpg.Record, float]:
    run = await conn.fetchrow("SELECT run_id, thread_id, created_at FROM runs WHERE status = 'success' "
                              "ORDER BY created_at DESC LIMIT 1")
    if run is None:
        raise SystemExit("no successful run to copy: run one first")
    return run, float(await conn.fetchval("SELECT extract(epoch FROM $1::timestamptz)", run["created_at"]))


async def copy_statement(conn: asyncpg.Connection, table: str) -> str:
    """INSERT ... SELECT copying the template's rows of `table` for copies $3..$4 (g)."""
    cols = await conn.fetch("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                            table)
    names, exprs = [], []
    for c in cols:
        name, typ = c["column_name"], c["data_type"]
        if (table, name) in SERIALS:
            continue
        q = f'"{name}"'
        if name in ID_COLUMNS and typ in ("uuid", "text"):
            e = f"pg_temp.fill_id(g, t.{q}::text)"
            e = f"CASE WHEN t.{q} IS NULL THEN NULL ELSE {e}{'::text' if typ == 'text' else ''} END"
        elif typ == "timestamp with time zone":
            # copy g ran `(n - g + 1) / rate` seconds before now; the template's own spacing is kept
            e = f"t.{q} + (to_timestamp($5::float8 - ($8::bigint - g + 1) / $6::float8) - to_timestamp($7::float8))"
        else:
            e = f"t.{q}"
        names.append(q)
        exprs.append(e)
    return (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} "
            f"FROM generate_series($3::bigint, $4::bigint) g, (SELECT * FROM {table} WHERE {TEMPLATE[table]}) t "
            # every parameter is referenced (a table without timestamps would leave $5..$7 untyped)
            "WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL "
            "AND $5::float8 + $6::float8 + $7::float8 + $8::bigint > 0")


JOBS = """
WITH j AS (
    INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
    SELECT 'duragraph_steps', 'duragraph.step',
           jsonb_build_object('run_id', pg_temp.fill_id(g, 'run')::text, 'task_id', pg_temp.fill_id(g, s::text)::text),
           'succeeded', 1
    FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, $6::int) s
    RETURNING id, ('x' || substr(replace(args->>'run_id', '-', ''), 1, 12))::bit(48)::bigint AS g
)
INSERT INTO procrastinate_events (job_id, type, at)
SELECT j.id, e.type::procrastinate_job_event_type, to_timestamp($4::float8 - ($3::bigint - j.g + 1) / $5::float8)
FROM j, (VALUES ('deferred'), ('started'), ('succeeded')) e(type)
"""

async def fill(dsn: str, runs: int, *, chunk: int = 50_000, rate: float = 50.0, jobs_per_run: int = 3,
               progress: bool = True) -> Filled:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(SETUP)
        run, t_epoch = await template(conn)
        statements = {t: await copy_statement(conn, t) for t in TEMPLATE}
        before_rows = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in FILLED}
        bytes_before = await sizes(conn)
        now = float(await conn.fetchval("SELECT extract(epoch FROM now())"))
        # copy numbers continue past any earlier fill of this database
        base = int(await conn.fetchval("SELECT coalesce(max(('x' || substr(replace(thread_id::text, '-', ''), 1, 12))"
                                       "::bit(48)::bigint), 0) FROM threads WHERE thread_id < $1",
                                       "00010000-0000-0000-0000-000000000000"))
        started = time.perf_counter()
        for lo in range(base + 1, base + runs + 1, chunk):
            hi = min(lo + chunk - 1, base + runs)
            async with conn.transaction():
                for stmt in statements.values():
                    await conn.execute(stmt, run["run_id"], run["thread_id"], lo, hi, now, rate, t_epoch, base + runs)
                if jobs_per_run:
                    await conn.execute(JOBS, lo, hi, base + runs, now, rate, jobs_per_run)
            if progress:
                done = hi - base
                el = time.perf_counter() - started
                print(f"  fill: {done:,}/{runs:,} runs, {el:.0f} s, eta {el / done * (runs - done):.0f} s", flush=True)
        seconds = time.perf_counter() - started
        t = time.perf_counter()
        for table in FILLED:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        # the pages the fill and the vacuum dirtied are written now, not by the checkpointer during a
        # measurement that follows
        await conn.execute("CHECKPOINT")
        vacuum = time.perf_counter() - t
        after_rows = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in FILLED}
        return Filled(runs, seconds, {t: after_rows[t] - before_rows[t] for t in FILLED}, bytes_before,
                      await sizes(conn), vacuum)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--chunk", type=int, default=50_000, help="runs per transaction")
    parser.add_argument("--rate", type=float, default=50.0, help="runs/s the history is spread at")
    parser.add_argument("--jobs-per-run", type=int, default=3, help="finished procrastinate jobs per run (0: none)")
    args = parser.parse_args()
    filled = asyncio.run(fill(args.dsn, args.runs, chunk=args.chunk, rate=args.rate, jobs_per_run=args.jobs_per_run))
    print("\n".join(filled.lines()))


if __name__ == "__main__":
    main()
