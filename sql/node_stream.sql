-- Named queries of engine/durable/live.py: chunks a node streams while it runs.

-- name: task_still_open
-- under the run row lock: is the run running and this task not completed yet (a duplicate or late
-- execution must not add chunks after the task's result)
SELECT 1 FROM tasks t JOIN runs r ON r.run_id = t.run_id
WHERE t.run_id = $1 AND t.task_id = $2 AND t.status = 'queued' AND r.status = 'running'
