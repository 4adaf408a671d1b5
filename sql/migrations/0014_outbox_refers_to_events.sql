-- The outbox refers to its event instead of copying it (issue 18).
--
-- An outbox row was its event again: the event as JSON bytes (`payload`) and a ~95-byte subject, kept an
-- hour after publishing. Now a row is the event's id, run, thread, seq and the subject's prefix; the relay
-- builds the message from the `events` row when it fetches (relay/queries.sql `delete_and_fetch`, the same
-- bytes as before) and the subject from the prefix, the thread and the run, and deletes the row once
-- JetStream has acknowledged it: the table holds the unpublished backlog only.
--
-- `payload` and `subject` stay, nullable, for rows written before this migration (or by an engine of the
-- previous version during a rolling deploy), which the relay still publishes as they are, and for a
-- deleted thread's rows whose events are deleted before the relay has published them
-- (sql/threads.sql `delete_events_of_threads` keeps those events in their outbox rows).
ALTER TABLE outbox
    ALTER COLUMN payload DROP NOT NULL,
    ALTER COLUMN subject DROP NOT NULL,
    ADD COLUMN subject_prefix text;

-- `published_at` and its two partial indexes stay: no new row sets it (the published_at index gets no
-- entry per insert), rows a relay of the previous version marks during a rolling deploy have it (new
-- relays delete them), and `outbox_unpublished` is what keeps the relay's fetch an ordered index scan
-- whatever the planner's estimate of a table that empties and fills all the time (on the primary key
-- alone, an outbox without fresh statistics was scanned and sorted whole at every fetch).
