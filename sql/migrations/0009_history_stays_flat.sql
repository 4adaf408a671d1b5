-- Indexes that keep a run's cost flat however much history the tables hold (README "Cost with history"):
-- every statement on a step's, a run's or a background pass's path reads a per-run, per-thread or
-- pending-only slice, never one that grows with finished runs.

-- A thread's pending and running runs (the queue of a thread, `busy`, multitask checks): a per-thread slice of
-- the active runs. `runs_status` (status) WHERE active read every active run of every thread and filtered.
DROP INDEX runs_status;
CREATE INDEX runs_active_by_thread ON runs (thread_id) WHERE status IN ('pending', 'running');

-- Threads past their TTL (housekeeping, every minute): only threads that have one; it was a scan of all threads.
CREATE INDEX threads_with_ttl ON threads (thread_id) WHERE ttl IS NOT NULL;

-- Finished procrastinate jobs, oldest first, for their retention (engine/durable/retention.py). A succeeded
-- step's job is deleted when it ends, so on the success path this index gets no entry.
CREATE INDEX duragraph_jobs_finished ON procrastinate_jobs (id)
    WHERE status IN ('succeeded', 'failed', 'cancelled', 'aborted');

-- Only cost on insert and update: `threads_status` is the prefix of `threads_status_updated`;
-- `tasks_run_checkpoint` (run_id, checkpoint_id) is served by `tasks_pkey` (run_id, ...) and
-- `tasks_checkpoint` (checkpoint_id: a superstep's few tasks).
DROP INDEX threads_status;
DROP INDEX tasks_run_checkpoint;
