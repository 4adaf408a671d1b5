-- Named queries of engine/durable/retention.py.

-- name: delete_finished_jobs
-- Of the $2 oldest jobs finished with status $4 after id $3 (through `duragraph_jobs_finished`: status, id),
-- those whose last event is older than $1 seconds are deleted, with their events (ON DELETE CASCADE). A
-- batch reads $2 index entries whatever the history holds. Returns how far it read, how many it read and
-- deleted.
WITH oldest AS (
    SELECT id FROM procrastinate_jobs
    WHERE status = $4::procrastinate_job_status AND id > $3
    ORDER BY id
    LIMIT $2
), doomed AS (
    SELECT o.id FROM oldest o
    WHERE NOT EXISTS (SELECT 1 FROM procrastinate_events e
                      WHERE e.job_id = o.id AND e.at >= now() - make_interval(secs => $1::double precision))
), gone AS (
    DELETE FROM procrastinate_jobs j USING doomed
    WHERE j.id = doomed.id AND j.status = $4::procrastinate_job_status
    RETURNING j.id
)
SELECT (SELECT max(id) FROM oldest) AS last_id, (SELECT count(*) FROM oldest) AS read,
       (SELECT count(*) FROM gone) AS deleted
