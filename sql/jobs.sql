-- Named queries of engine/durable/jobs.py: procrastinate jobs deferred INSIDE our transactions,
-- through procrastinate's own versioned SQL function.

-- name: defer_jobs
SELECT unnest(procrastinate_defer_jobs_v1(array_agg(
    ROW($1::text, $2::text, 0, NULL, NULL, a::jsonb, s)::procrastinate_job_to_defer_v1 ORDER BY o)))
FROM unnest($3::text[], $4::timestamptz[]) WITH ORDINALITY AS j(a, s, o)

-- name: cancel_jobs
-- Queued jobs are deleted, running ones asked to abort (the worker cancels their asyncio task).
SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
WHERE id = ANY($1::bigint[]) AND status IN ('todo', 'doing')

-- name: stalled_jobs
-- Jobs in 'doing' whose worker is gone or has not sent a heartbeat for $2 seconds.
SELECT j.id FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing' AND j.queue_name = $1
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => $2))

-- name: requeue_job
SELECT procrastinate_retry_job_v2($1, now(), NULL, NULL, NULL)

-- name: prune_stalled_workers
SELECT worker_id FROM procrastinate_prune_stalled_workers_v1($1)

-- name: claim_job
-- A worker takes a step it just enqueued (same transaction), as procrastinate_fetch_job_v2 would.
UPDATE procrastinate_jobs SET status = 'doing', worker_id = $2 WHERE id = $1 AND status = 'todo' RETURNING id

-- name: finish_claimed_job
-- A claimed step's job ends with its step's commit (successful jobs are deleted, as the worker does).
DELETE FROM procrastinate_jobs WHERE id = $1 AND status = 'doing'

-- name: job_worker
SELECT worker_id FROM procrastinate_jobs WHERE id = $1

-- name: claimed_jobs_of_run
-- Jobs of run $1's queued steps that worker $2 holds (a claim whose commit acknowledgement was lost).
SELECT j.id FROM tasks t JOIN procrastinate_jobs j ON j.id = t.job_id
WHERE t.run_id = $1 AND t.status = 'queued' AND j.status = 'doing' AND j.worker_id = $2
