-- A thread's status once no run is active on it (what `busy` falls back to when a run that never
-- started is cancelled, or a run is rolled back).
ALTER TABLE threads ADD COLUMN settled_status text NOT NULL DEFAULT 'idle'
    CHECK (settled_status IN ('idle', 'interrupted', 'error'));

-- A resume re-saves the checkpoint it continues (the Command's update applied) under the same id; the
-- document it replaced is kept so that rolling back that run restores it.
ALTER TABLE checkpoints ADD COLUMN previous_checkpoint jsonb;
ALTER TABLE checkpoints ADD COLUMN replaced_by_run uuid;
CREATE INDEX checkpoints_replaced_by_run ON checkpoints (replaced_by_run) WHERE replaced_by_run IS NOT NULL;
