-- When a run started running: its timeout (DURAGRAPH_RUN_TIMEOUT) counts from there.
ALTER TABLE runs ADD COLUMN started_at timestamptz;
UPDATE runs SET started_at = updated_at WHERE status = 'running';
CREATE INDEX runs_running_started ON runs (started_at) WHERE status = 'running';
