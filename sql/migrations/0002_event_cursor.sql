-- A position for every event across all runs: the `id:` of the thread stream
-- (GET /threads/{tid}/stream), so `Last-Event-ID` resumes across the runs of a thread.
-- Assigned at insert (the sequence default); the runs of one thread append one after another (one
-- running run per thread), so within a thread positions grow in commit order.
ALTER TABLE events ADD COLUMN pos bigserial;
CREATE INDEX events_thread_pos ON events (thread_id, pos);
