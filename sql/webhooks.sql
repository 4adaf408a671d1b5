-- Named queries of engine/durable/webhooks.py.

-- name: webhook_run
SELECT w.url, w.delivered_at, r.run_id, r.thread_id, r.assistant_id, r.status, r.metadata, r.kwargs,
       r.multitask_strategy, r.created_at, r.updated_at, r.ended_at, r.error, r.output, r.graph_id
FROM webhook_deliveries w JOIN runs r USING (run_id) WHERE w.run_id = $1

-- name: webhook_delivered
UPDATE webhook_deliveries SET delivered_at = now(), attempts = attempts + 1 WHERE run_id = $1

-- name: webhook_failed
UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $2 WHERE run_id = $1
