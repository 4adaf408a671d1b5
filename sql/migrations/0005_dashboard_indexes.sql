-- Indexes for the dashboard's lists (/ui/api): threads and runs newest first, optionally by status, and the
-- overview's counts of recent runs. Each page reads one LIMITed slice of an index plus a count.
CREATE INDEX threads_status_updated ON threads (status, updated_at DESC);
CREATE INDEX threads_updated ON threads (updated_at DESC);
CREATE INDEX runs_created ON runs (created_at DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC);
