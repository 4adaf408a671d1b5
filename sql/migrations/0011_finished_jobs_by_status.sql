-- Finished procrastinate jobs by status, then id (replaces 0009's `duragraph_jobs_finished` on id alone): the
-- queue sampler's count of failed jobs reads the failed ones only, and retention walks each status oldest
-- first. On id alone, a history of succeeded jobs (kept with procrastinate's own `delete_jobs="never"`)
-- made the planner count failed jobs with a sequential scan of the whole table.
DROP INDEX duragraph_jobs_finished;
CREATE INDEX duragraph_jobs_finished ON procrastinate_jobs (status, id)
    WHERE status IN ('succeeded', 'failed', 'cancelled', 'aborted');
