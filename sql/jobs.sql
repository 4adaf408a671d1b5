-- Named queries of engine/durable/jobs.py: procrastinate jobs deferred INSIDE our transactions,
-- through procrastinate's own versioned SQL function.

-- name: defer_jobs
SELECT unnest(procrastinate_defer_jobs_v1(array_agg(
    ROW($1::text, $2::text, 0, NULL, NULL, a::jsonb, s)::procrastinate_job_to_defer_v1 ORDER BY o)))
FROM unnest($3::text[], $4::timestamptz[]) WITH ORDINALITY AS j(a, s, o)

-- name: requeue_stalled_jobs
-- Jobs in 'doing' whose worker is gone or has not sent a heartbeat for $2 seconds go back to the queue
-- (checked again under the row lock: a job finished or re-fetched meanwhile is left alone); not while
-- the server has been up for less than $3 seconds (see prune_stalled_workers).
SELECT j.id, procrastinate_retry_job_v2(j.id, now(), NULL, NULL, NULL) FROM (
    SELECT j.id FROM procrastinate_jobs j
    LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
    WHERE j.status = 'doing' AND j.queue_name = $1
      AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => $2))
      AND pg_postmaster_start_time() < now() - make_interval(secs => $3)
    FOR UPDATE OF j SKIP LOCKED
) j

-- name: requeue_job
SELECT procrastinate_retry_job_v2($1, now(), NULL, NULL, NULL)

-- name: prune_stalled_workers
-- Workers silent for $1 seconds are dead; not while the server itself has been up for less than $2
-- seconds (after a restart, every heartbeat is old: the live workers get their chance to send one).
SELECT worker_id FROM procrastinate_prune_stalled_workers_v1($1)
WHERE pg_postmaster_start_time() < now() - make_interval(secs => $2)

-- name: heartbeat
-- procrastinate's heartbeat, and the worker registered again under its own id if it had been pruned
-- (ids come from an identity sequence: never handed to another worker). Returns true when re-registered.
INSERT INTO procrastinate_workers (id, last_heartbeat) OVERRIDING SYSTEM VALUE VALUES ($1, now())
ON CONFLICT (id) DO UPDATE SET last_heartbeat = now()
RETURNING xmax = 0 AS reregistered

-- name: jobs_of_worker
SELECT id FROM procrastinate_jobs WHERE worker_id = $1 AND status = 'doing'

-- name: release_job_of_worker
-- Back to the queue, only if worker $2 still holds it.
SELECT j.id, procrastinate_retry_job_v2(j.id, now(), NULL, NULL, NULL) FROM (
    SELECT id FROM procrastinate_jobs WHERE id = $1 AND status = 'doing' AND worker_id = $2 FOR UPDATE
) j

-- name: fail_job
-- A job given up (engine/durable/failures.py), in the transaction that ends its run.
SELECT procrastinate_finish_job_v1(id, 'failed', false) FROM procrastinate_jobs
WHERE id = $1 AND status IN ('todo', 'doing')

-- name: finish_claimed_job
-- A claimed step's job ends with its step's commit (successful jobs are deleted, as the worker does).
DELETE FROM procrastinate_jobs WHERE id = $1 AND status = 'doing'

-- name: job_worker
SELECT worker_id FROM procrastinate_jobs WHERE id = $1

-- name: claimed_jobs_of_run
-- Jobs of run $1's queued steps that worker $2 holds (a claim whose commit acknowledgement was lost).
SELECT j.id FROM tasks t JOIN procrastinate_jobs j ON j.id = t.job_id
WHERE t.run_id = $1 AND t.status = 'queued' AND j.status = 'doing' AND j.worker_id = $2
