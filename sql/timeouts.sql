-- Named queries of engine/durable/timeouts.py: runs that ran longer than the run timeout.

-- name: timed_out_runs
SELECT run_id FROM runs
WHERE status = 'running' AND started_at < now() - make_interval(secs => $1)
ORDER BY started_at LIMIT 100

-- name: lock_timed_out_run
-- `lock_run` for a run still over its time; one whose step is committing right now is taken next pass.
SELECT run_id, thread_id, assistant_id, graph_id, status, kwargs, metadata, checkpoint_id, step,
       multitask_strategy, temporary, webhook, cancel_requested, created_at
FROM runs WHERE run_id = $1 AND status = 'running' AND started_at < now() - make_interval(secs => $2)
FOR UPDATE SKIP LOCKED
