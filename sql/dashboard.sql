-- Read queries of the dashboard (engine/durable/dashboard.py). Every query takes the caller's access scope
-- (a metadata containment from the auth handlers; NULL: everything) and applies it to the thread. Run queries
-- look the thread up only when there is a scope (`$n IS NULL OR EXISTS ...`), so an open server reads runs alone.

-- name: run_counts
-- runs created since $1, by status
SELECT r.status, count(*) AS n
FROM runs r
WHERE r.created_at >= $1
  AND ($2::jsonb IS NULL OR EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id AND t.metadata @> $2::jsonb))
GROUP BY r.status

-- name: thread_counts
SELECT t.status, count(*) AS n
FROM threads t
WHERE ($1::jsonb IS NULL OR t.metadata @> $1::jsonb)
GROUP BY t.status

-- name: queue_depth
-- procrastinate jobs waiting for a worker, and those a worker is running
SELECT count(*) FILTER (WHERE status = 'todo') AS waiting, count(*) FILTER (WHERE status = 'doing') AS running
FROM procrastinate_jobs

-- name: workers_alive
-- workers whose last heartbeat is younger than $1 seconds
SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => $1)

-- name: threads_page
-- $1 status, $2 metadata containment, $3 thread id, $4 limit, $5 offset, $6 scope; newest activity first
SELECT t.thread_id, t.status, t.metadata, t.graph_id, t.created_at, t.updated_at,
       (SELECT coalesce(sum(jsonb_array_length(e.value)), 0)::int FROM jsonb_each(t.interrupts) AS e
        WHERE jsonb_typeof(e.value) = 'array') AS interrupt_count  -- interrupts is {task id: [interrupt, ...]}
FROM threads t
WHERE ($1::text IS NULL OR t.status = $1::text)
  AND ($2::jsonb IS NULL OR t.metadata @> $2::jsonb)
  AND ($3::uuid IS NULL OR t.thread_id = $3::uuid)
  AND ($6::jsonb IS NULL OR t.metadata @> $6::jsonb)
ORDER BY t.updated_at DESC, t.thread_id
LIMIT $4 OFFSET $5

-- name: threads_total
SELECT count(*)
FROM threads t
WHERE ($1::text IS NULL OR t.status = $1::text)
  AND ($2::jsonb IS NULL OR t.metadata @> $2::jsonb)
  AND ($3::uuid IS NULL OR t.thread_id = $3::uuid)
  AND ($4::jsonb IS NULL OR t.metadata @> $4::jsonb)

-- name: runs_page
-- $1 status, $2 thread id, $3 limit, $4 offset, $5 scope; newest first
SELECT r.run_id, r.thread_id, r.assistant_id, r.graph_id, r.status, r.created_at, r.updated_at, r.ended_at,
       r.error
FROM runs r
WHERE ($1::text IS NULL OR r.status = $1::text)
  AND ($2::uuid IS NULL OR r.thread_id = $2::uuid)
  AND ($5::jsonb IS NULL OR EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id AND t.metadata @> $5::jsonb))
ORDER BY r.created_at DESC, r.run_id
LIMIT $3 OFFSET $4

-- name: runs_total
SELECT count(*)
FROM runs r
WHERE ($1::text IS NULL OR r.status = $1::text)
  AND ($2::uuid IS NULL OR r.thread_id = $2::uuid)
  AND ($3::jsonb IS NULL OR EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id AND t.metadata @> $3::jsonb))

-- name: run
SELECT r.run_id, r.thread_id, r.assistant_id, r.graph_id, r.status, r.kwargs, r.metadata, r.step, r.error,
       r.cancel_requested, r.created_at, r.updated_at, r.ended_at, r.last_seq,
       (SELECT min(e.created_at) FROM events e WHERE e.run_id = r.run_id) AS started_at
FROM runs r
WHERE r.run_id = $1
  AND ($2::jsonb IS NULL OR EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id AND t.metadata @> $2::jsonb))

-- name: run_tasks
-- the run's tasks in plan order, with the checkpoint each was planned from (a pull task's input is the state
-- saved there), and its outcome with its writes (read from its result event)
SELECT k.task_id, k.name, k.step, k.status, k.attempts, k.created_at, k.finished_at, k.checkpoint_id,
       k.spec -> 'send_arg' AS send_arg,
       CASE WHEN k.result_event IS NULL THEN k.outcome ELSE k.outcome || jsonb_build_object('writes', e.data->'writes')
       END AS outcome, k.thread_id,
       duragraph_checkpoint_doc(c.checkpoint, c.checkpoint_id, c.parent_checkpoint_id, c.step, c.checkpoint_ns) AS checkpoint
FROM tasks k LEFT JOIN checkpoints c ON c.checkpoint_id = k.checkpoint_id LEFT JOIN events e ON e.event_id = k.result_event
WHERE k.run_id = $1
ORDER BY k.step, k.created_at, k.task_id
