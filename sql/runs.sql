-- Named queries of the run lifecycle (engine/durable/lifecycle.py, step.py, runs.py).

-- name: lock_run
SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
       multitask_strategy, temporary, webhook, cancel_requested, created_at
FROM runs WHERE run_id = $1 FOR UPDATE

-- name: get_run
-- with the document of the checkpoint a stopped run's output reads (engine/durable/values.py)
SELECT r.run_id, r.thread_id, r.assistant_id, r.graph_id, r.status, r.kwargs, r.metadata, r.multitask_strategy,
       r.created_at, r.updated_at, r.error, r.output, r.temporary,
       duragraph_checkpoint_doc(c.checkpoint, c.checkpoint_id, c.parent_checkpoint_id, c.step, c.checkpoint_ns) AS output_checkpoint
FROM runs r LEFT JOIN checkpoints c ON c.checkpoint_id = (r.output->>'checkpoint_id')::uuid
WHERE r.run_id = $1

-- name: insert_run
-- A delayed run ($10 = after_seconds) is created in the future, as the official server shows it; the
-- clock is the transaction's, like every other timestamp of the run. Its thread (locked by the caller) is
-- stamped with the run's graph and assistant ($11) and shows `busy`.
WITH th AS (
    UPDATE threads SET metadata = metadata || $11, graph_id = COALESCE(graph_id, $4), status = 'busy',
                       updated_at = now()
    WHERE thread_id = $2
)
INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs, multitask_strategy,
                  temporary, webhook, scheduled_at, created_at)
VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, now() + make_interval(secs => $10),
        now() + make_interval(secs => $10))
RETURNING run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
          multitask_strategy, temporary, webhook, cancel_requested, created_at, updated_at

-- name: mark_running
UPDATE runs SET status = 'running', checkpoint_id = $2, started_at = now(), updated_at = now() WHERE run_id = $1

-- name: active_runs_for_update
-- Waits for the rows: only before the thread row is locked (the lock order in engine/durable/runs.py).
SELECT run_id, status FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running')
ORDER BY run_id FOR UPDATE

-- name: active_runs
SELECT run_id, status FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running') ORDER BY run_id

-- name: lock_runs_nowait
-- Run rows taken while the thread row is already held: never waited for (NOWAIT fails instead, and the
-- transaction is retried), since a step completion holding one of them waits for the thread.
SELECT run_id FROM runs WHERE run_id = ANY($1::uuid[]) ORDER BY run_id FOR UPDATE NOWAIT

-- name: lock_runs
SELECT run_id FROM runs WHERE run_id = ANY($1::uuid[]) ORDER BY run_id FOR UPDATE

-- name: count_active_runs
SELECT count(*) FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running')

-- name: list_runs
SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, multitask_strategy,
       created_at, updated_at, error, output, temporary
FROM runs WHERE thread_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4

-- name: delete_run
DELETE FROM runs WHERE run_id = $1 AND thread_id = $2 RETURNING status

-- name: lock_thread
SELECT thread_id, status, checkpoint_id, metadata, interrupts FROM threads WHERE thread_id = $1 FOR UPDATE

-- name: insert_thread
INSERT INTO threads (thread_id, metadata) VALUES ($1, $2) ON CONFLICT (thread_id) DO NOTHING

-- name: set_thread_head
UPDATE threads SET checkpoint_id = $2, interrupts = $3, updated_at = now() WHERE thread_id = $1

-- name: set_thread_status
UPDATE threads SET status = $2, updated_at = now() WHERE thread_id = $1

-- name: insert_checkpoints
INSERT INTO checkpoints (checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step, checkpoint,
                         metadata)
SELECT i, t, ns, p, r, s, c::jsonb, m::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::int[], $7::text[], $8::text[])
     AS u(i, t, ns, p, r, s, c, m)
-- the core re-saves a checkpoint under the same id when a resume applies its Command's writes to it
ON CONFLICT (checkpoint_id) DO UPDATE SET previous_checkpoint = checkpoints.checkpoint,
    replaced_by_run = EXCLUDED.run_id, checkpoint = EXCLUDED.checkpoint

-- name: get_checkpoint
-- (metadata: what the row's columns say, then what is stored: migration 0013)
SELECT checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step, created_at,
       duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint,
       duragraph_checkpoint_metadata(metadata, step, thread_id, run_id) AS metadata
FROM checkpoints WHERE checkpoint_id = $1

-- name: thread_checkpoint
SELECT checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step, created_at,
       duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint,
       duragraph_checkpoint_metadata(metadata, step, thread_id, run_id) AS metadata
FROM checkpoints WHERE thread_id = $1 AND checkpoint_id = $2

-- name: history
SELECT checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step, created_at,
       duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint,
       duragraph_checkpoint_metadata(metadata, step, thread_id, run_id) AS metadata
FROM checkpoints
WHERE thread_id = $1 AND checkpoint_ns = ''
  AND ($2::timestamptz IS NULL OR created_at < $2)
  AND ($3::jsonb IS NULL OR duragraph_checkpoint_metadata(metadata, step, thread_id, run_id) @> $3)
ORDER BY created_at DESC, checkpoint_id DESC LIMIT $4

-- name: load_task
-- (`step_tasks`: the tasks of its superstep, itself included; they are all inserted by one statement)
SELECT t.task_id, t.name, t.spec, t.status, t.resume, t.checkpoint_id, t.step,
       extract(epoch FROM clock_timestamp() - t.created_at)::float8 AS queue_wait, r.status AS run_status, r.thread_id, r.graph_id, r.kwargs, r.assistant_id,
       duragraph_checkpoint_doc(c.checkpoint, c.checkpoint_id, c.parent_checkpoint_id, c.step, c.checkpoint_ns) AS checkpoint,
       (SELECT count(*) FROM tasks s WHERE s.run_id = t.run_id AND s.checkpoint_id = t.checkpoint_id) AS step_tasks
FROM tasks t JOIN runs r ON r.run_id = t.run_id JOIN checkpoints c ON c.checkpoint_id = t.checkpoint_id
WHERE t.run_id = $1 AND t.task_id = $2

-- name: step_tasks
-- (a task's outcome with its writes, read from its result event: sql/migrations/0012)
SELECT t.task_id, t.spec, t.status, CASE WHEN t.result_event IS NULL THEN t.outcome ELSE t.outcome || jsonb_build_object('writes', e.data->'writes') END AS outcome, t.resume
FROM tasks t LEFT JOIN events e ON e.event_id = t.result_event
WHERE t.run_id = $1 AND t.checkpoint_id = $2 ORDER BY t.task_id

-- name: latest_tasks_for_checkpoint
-- The pending writes and interrupts of checkpoint $1, while its superstep is open (no child checkpoint;
-- once a child exists they are history, as in LangGraph, and a fork from $1 re-runs them): per task,
-- its newest outcome that counts. A cancelled attempt (e.g. a resume cancelled mid-step) does not erase
-- the interrupt it was answering.
SELECT DISTINCT ON (t.task_id) t.task_id, t.spec, t.status, CASE WHEN t.result_event IS NULL THEN t.outcome ELSE t.outcome || jsonb_build_object('writes', e.data->'writes') END AS outcome, t.resume
FROM tasks t LEFT JOIN events e ON e.event_id = t.result_event
WHERE t.checkpoint_id = $1 AND t.status IN ('success', 'interrupted')
  AND NOT EXISTS (SELECT 1 FROM checkpoints WHERE parent_checkpoint_id = $1)
ORDER BY t.task_id, t.created_at DESC

-- name: delete_run_checkpoints
-- through `checkpoints_thread`: there is no index on run_id (it would cost every checkpoint's insert)
DELETE FROM checkpoints WHERE thread_id = $2 AND run_id = $1

-- name: resolve_assistant
SELECT assistant_id, graph_id, config, context, metadata FROM assistants
WHERE assistant_id = $1 OR (graph_id = $2 AND metadata->>'created_by' = 'system')
ORDER BY (assistant_id = $1) DESC LIMIT 1

-- name: insert_webhook
INSERT INTO webhook_deliveries (run_id, url) VALUES ($1, $2) ON CONFLICT (run_id) DO NOTHING

-- name: delete_run_row
DELETE FROM runs WHERE run_id = $1

-- name: runs_by_status
SELECT run_id FROM runs WHERE status = ANY($1::text[]) AND ($2::uuid IS NULL OR thread_id = $2)

-- name: thread_exists
SELECT 1 FROM threads WHERE thread_id = $1

-- name: run_status
SELECT status FROM runs WHERE run_id = $1

-- name: previous_run_trace
-- the trace context of the thread's latest traced run (a resume links to it)
SELECT kwargs->'otel' FROM runs WHERE thread_id = $1 AND kwargs ? 'otel' ORDER BY created_at DESC LIMIT 1

-- name: running_run_of_thread
SELECT run_id FROM runs WHERE thread_id = $1 AND status = 'running'

-- name: run_for_replay
SELECT run_id, thread_id, graph_id, status, kwargs, output FROM runs WHERE run_id = $1

-- name: run_events
SELECT seq, event, data FROM events WHERE run_id = $1 ORDER BY seq

-- name: run_task_rows
SELECT task_id, checkpoint_id, spec, status, outcome FROM tasks WHERE run_id = $1

-- name: task_result_elsewhere
-- The result event of a task kept from an earlier run of the same checkpoint (replay): an earlier run of the
-- same thread, newest first, through `events_thread_pos` (not a scan of every run's events).
SELECT data FROM events WHERE thread_id = $3 AND event = 'task_result' AND data->>'id' = $1 AND run_id <> $2
ORDER BY pos DESC LIMIT 1

-- name: child_checkpoint
SELECT duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint FROM checkpoints WHERE parent_checkpoint_id = $1 AND run_id = $2

-- name: complete_task_locked
-- After `lock_run` (a statement of its own: this one's snapshot must be taken once the lock is held, or a
-- concurrent sibling's completion would be invisible): record the task's outcome, only if the task is
-- still queued (a re-delivered or late completion changes nothing), and return the step's siblings (with
-- their writes, read from their result events). $6: the task's result event, appended in this transaction.
WITH done AS (
    UPDATE tasks SET status = $3, outcome = $4::text::jsonb, attempts = $5, finished_at = now(), result_event = $6
    WHERE run_id = $1 AND task_id = $2 AND status = 'queued'
    RETURNING checkpoint_id
), siblings AS (
    SELECT t.task_id, t.spec, t.status, CASE WHEN t.result_event IS NULL THEN t.outcome ELSE t.outcome || jsonb_build_object('writes', e.data->'writes') END AS outcome
    FROM done, tasks t LEFT JOIN events e ON e.event_id = t.result_event
    WHERE t.run_id = $1 AND t.checkpoint_id = done.checkpoint_id AND t.task_id <> $2
)
SELECT (SELECT checkpoint_id FROM done) AS done_checkpoint,
       (SELECT count(*) FROM siblings WHERE status = 'queued') AS still_open,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('task_id', task_id, 'spec', spec, 'status', status,
                                                     'outcome', outcome)), '[]') FROM siblings) AS siblings

-- name: thread_for_state
SELECT thread_id, graph_id, checkpoint_id, status FROM threads WHERE thread_id = $1

-- name: failed_tasks_for_checkpoint
-- The newest failed outcome of each task of the superstep planned from checkpoint $1.
SELECT DISTINCT ON (task_id) task_id, outcome FROM tasks
WHERE checkpoint_id = $1 AND status = 'error'
ORDER BY task_id, created_at DESC

-- name: thread_last_run_error
-- The error of the thread's newest run, if that run ended in error.
SELECT CASE WHEN status = 'error' THEN error END FROM runs WHERE thread_id = $1
ORDER BY run_id DESC LIMIT 1

-- name: set_thread_graph
UPDATE threads SET graph_id = $2 WHERE thread_id = $1 AND graph_id IS NULL

-- name: lock_run_finishing_job
-- `lock_run`, and the end of the claimed step's job $2 (NULL: none) in the same round trip.
WITH fin AS (DELETE FROM procrastinate_jobs WHERE id = $2 AND status = 'doing')
SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
       multitask_strategy, temporary, webhook, cancel_requested, created_at
FROM runs WHERE run_id = $1 FOR UPDATE

-- name: lock_run_completing_alone
-- `lock_run_finishing_job` and `complete_task_locked` in ONE round trip, for a task that is the only one of its
-- superstep (no sibling's completion for this statement's snapshot to miss): the run row locked (its newest
-- version: a cancel committed meanwhile shows), then the task's outcome recorded only if the run is still
-- running and the task still queued; $7: its result event, appended in this transaction.
WITH fin AS (DELETE FROM procrastinate_jobs WHERE id = $2 AND status = 'doing'),
r AS (
    SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
           multitask_strategy, temporary, webhook, cancel_requested, created_at
    FROM runs WHERE run_id = $1 FOR UPDATE
), done AS (
    UPDATE tasks SET status = $4, outcome = $5::text::jsonb, attempts = $6, finished_at = now(), result_event = $7
    WHERE run_id = $1 AND task_id = $3 AND status = 'queued' AND EXISTS (SELECT 1 FROM r WHERE status = 'running')
    RETURNING checkpoint_id
)
SELECT r.*, (SELECT checkpoint_id FROM done) AS done_checkpoint FROM r

-- name: persist_decision
-- What a decision of the core changes, in ONE round trip (the caller holds the run row lock): the new
-- checkpoints (a re-saved one keeps the document it replaced, for a rollback), the run's position and
-- its event sequence, the thread's head ($25: its pending interrupts), and for a superstep that goes
-- on: one procrastinate job per task to run (through procrastinate's own defer function, which returns
-- ids in input order, as procrastinate itself relies on), the task rows with their job ids, and the
-- events with their outbox rows ($24: the subject's prefix), and the checkpoints' channel blobs ($26-$30);
-- with $31 (a worker id), the first job is claimed for that worker; $32: the result event of each task row's
-- kept outcome (its writes are there). Returns (ordinal of the task, job id, claimed) for the jobs deferred.
WITH cp AS (
    INSERT INTO checkpoints (checkpoint_id, thread_id, checkpoint_ns, parent_checkpoint_id, run_id, step,
                             checkpoint, metadata)
    SELECT i, $2, '', p, $1, s, c::jsonb, m::jsonb
    FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[]) AS u(i, p, s, c, m)
    ON CONFLICT (checkpoint_id) DO UPDATE SET previous_checkpoint = checkpoints.checkpoint,
    replaced_by_run = EXCLUDED.run_id, checkpoint = EXCLUDED.checkpoint
), r AS (
    UPDATE runs SET checkpoint_id = CASE WHEN cardinality($3::uuid[]) > 0 THEN $8 ELSE checkpoint_id END,
                    step = COALESCE($9, step), last_seq = last_seq + cardinality($20::uuid[]), updated_at = now()
    WHERE run_id = $1 RETURNING last_seq - cardinality($20::uuid[]) AS first
), th AS (
    -- (not updated_at: the run's start and end stamp it; left alone, no indexed column changes here and
    -- the new row version stays in its page, a HOT update with no index entries)
    UPDATE threads SET checkpoint_id = $8, interrupts = $25
    WHERE thread_id = $2
), q AS (
    SELECT o, row_number() OVER (ORDER BY o) AS k FROM unnest($17::text[]) WITH ORDINALITY AS x(a, o)
    WHERE a IS NOT NULL
), c AS (
    -- the first job, claimed by worker $31 (if it is registered) as procrastinate_fetch_job_v2 would: that
    -- worker runs the step once this commits, so it is inserted `doing`, which spares the queue's
    -- notification (and the fetch it wakes for nothing) and the `deferred` / `started` event rows
    INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id)
    SELECT $18, $19, x.a::jsonb, 'doing', w.id
    FROM procrastinate_workers w, unnest($17::text[]) WITH ORDINALITY AS x(a, o) JOIN q ON q.o = x.o
    WHERE w.id = $31 AND q.k = 1
    RETURNING id
), j AS (
    SELECT id, 1::bigint AS k, true AS claimed FROM c
    UNION ALL
    SELECT id, k + (SELECT count(*) FROM c), false FROM unnest(procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW($18::text, $19::text, 0, NULL, NULL, x.a::jsonb, NULL)::procrastinate_job_to_defer_v1
        FROM unnest($17::text[]) WITH ORDINALITY AS x(a, o) JOIN q ON q.o = x.o
        WHERE q.k > (SELECT count(*) FROM c) ORDER BY x.o
    ))) WITH ORDINALITY AS j(id, k)
    WHERE (SELECT count(*) FROM q) > (SELECT count(*) FROM c)  -- (not called at all with nothing to defer)
), t AS (
    INSERT INTO tasks (run_id, task_id, thread_id, checkpoint_id, step, name, spec, status, resume, outcome,
                       finished_at, job_id, result_event)
    SELECT $1, u.tid, $2, $10, u.s, u.n, u.sp::jsonb, u.st, u.rs::jsonb, u.oc::jsonb,
           CASE WHEN u.st = 'queued' THEN NULL ELSE now() END, j.id, u.re
    FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::text[], $21::text[],
                $32::uuid[])
         WITH ORDINALITY AS u(tid, s, n, sp, st, rs, oc, re, o)
    LEFT JOIN q ON q.o = u.o LEFT JOIN j ON j.k = q.k
    ON CONFLICT (run_id, task_id) DO NOTHING
), ev AS (
    INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
    SELECT e, $1, $2, r.first + x.o, x.kind, x.d::jsonb
    FROM r, unnest($20::uuid[], $22::text[], $23::text[]) WITH ORDINALITY AS x(e, kind, d, o)
    RETURNING event_id, seq
), ob AS (
    INSERT INTO outbox (event_id, run_id, thread_id, seq, subject_prefix)
    SELECT event_id, $1, $2, seq, $24 FROM ev ORDER BY seq
), bl AS (
    -- the values of the channels these checkpoints changed (engine/durable/blobs.py)
    INSERT INTO checkpoint_blobs (thread_id, channel, version, base, depth, data)
    SELECT $2, c, v, b, d, x
    FROM unnest($26::text[], $27::text[], $28::text[], $29::int[], $30::bytea[]) AS u(c, v, b, d, x)
    ON CONFLICT DO NOTHING
)
SELECT q.o AS ordinal, j.id AS job_id, j.claimed FROM q JOIN j ON j.k = q.k ORDER BY q.o

-- name: settle_thread
-- The thread's status once a run that ran has ended (also what `busy` falls back to later).
UPDATE threads SET status = $2, settled_status = $2, updated_at = now() WHERE thread_id = $1

-- name: restore_replaced_checkpoints
-- Rolling back run $1: checkpoints it re-saved (a resume applying its Command) get their document back.
UPDATE checkpoints SET checkpoint = previous_checkpoint, previous_checkpoint = NULL, replaced_by_run = NULL
WHERE replaced_by_run = $1

-- name: newest_checkpoint
SELECT checkpoint_id, duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint
FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = ''
ORDER BY created_at DESC, checkpoint_id DESC LIMIT 1

-- name: checkpoint_docs
-- root checkpoints by id, for what a thread's head or a run's output shows (engine/durable/values.py)
SELECT checkpoint_id, thread_id, duragraph_checkpoint_doc(checkpoint, checkpoint_id, parent_checkpoint_id, step, checkpoint_ns) AS checkpoint
FROM checkpoints WHERE checkpoint_id = ANY($1::uuid[])

-- name: finish_run
-- A locked run ends, in ONE round trip: its open steps are dropped (their queued jobs deleted, running ones
-- asked to abort, through procrastinate's own function), its final status, its last events ($6-$8, the
-- `end` event last) with their outbox rows ($9: the subject's prefix), and the wake-up of its waiters (delivered
-- at commit).
WITH open AS (
    UPDATE tasks SET status = 'cancelled', finished_at = now() WHERE run_id = $1 AND status = 'queued'
    RETURNING job_id
), cancelled AS (
    SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
    WHERE id IN (SELECT job_id FROM open) AND status IN ('todo', 'doing')
), r AS (
    UPDATE runs SET status = $2, error = $3, output = $4, ended_at = now(), updated_at = now(),
                    cancel_requested = COALESCE($5, cancel_requested),
                    last_seq = last_seq + cardinality($6::uuid[])
    WHERE run_id = $1 RETURNING thread_id, last_seq - cardinality($6::uuid[]) AS first
), ev AS (
    INSERT INTO events (event_id, run_id, thread_id, seq, event, data)
    SELECT e, $1, r.thread_id, r.first + x.o, x.kind, x.d::jsonb
    FROM r, unnest($6::uuid[], $7::text[], $8::text[]) WITH ORDINALITY AS x(e, kind, d, o)
    RETURNING event_id, thread_id, seq
), ob AS (
    INSERT INTO outbox (event_id, run_id, thread_id, seq, subject_prefix)
    SELECT event_id, $1, thread_id, seq, $9 FROM ev ORDER BY seq
)
SELECT (SELECT count(*) FROM cancelled) AS jobs_cancelled, pg_notify('duragraph_run_done', $1::text)

-- name: settle_thread_after_run
-- After a run of thread $1 ended, in one round trip; nothing while another run of it is running. Else a
-- run that ran ($2) settles the thread's status to $3; the thread shows `busy` while a run is pending, else
-- its settled status; and (with $4, promote) the next due pending run is returned, locked. The thread is
-- held here: that run is taken with SKIP LOCKED, never waited for (the lock order). Its clock is the
-- statement's, not the transaction's: a completion that began before a run was queued (and then waited for
-- the thread that the run's creator held) must still see that run as due, or it would stay pending with
-- nothing left to start it.
WITH running AS (
    SELECT 1 FROM runs WHERE thread_id = $1 AND status = 'running'
), nxt AS (
    SELECT run_id FROM runs
    WHERE thread_id = $1 AND status = 'pending' AND scheduled_at <= clock_timestamp() AND $4::boolean
      AND NOT EXISTS (SELECT 1 FROM running)
    ORDER BY created_at, run_id LIMIT 1 FOR UPDATE SKIP LOCKED
), th AS (
    UPDATE threads SET settled_status = CASE WHEN $2::boolean THEN $3 ELSE settled_status END,
        status = CASE WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running'))
                      THEN 'busy' WHEN $2::boolean THEN $3 ELSE settled_status END,
        updated_at = now()
    WHERE thread_id = $1 AND NOT EXISTS (SELECT 1 FROM running)
)
SELECT run_id FROM nxt
