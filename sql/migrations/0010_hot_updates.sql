-- Cheaper writes on the hot path.
--
-- Rows a run updates several times leave room in their page for the new versions (README "Throughput
-- through the API"): its thread (the head at every superstep), the run (its position and event sequence),
-- its tasks (their outcome). An update that changes no indexed column then stays in the page (a HOT
-- update) and writes no index entry: a thread's head moving costs no entry in its five indexes (one GIN).
-- Only pages filled from now on keep the room.
ALTER TABLE threads SET (fillfactor = 75);
ALTER TABLE runs SET (fillfactor = 80);
ALTER TABLE tasks SET (fillfactor = 85);

-- An outbox row's event_id is its event's primary key, inserted by the same statement: the outbox's own
-- unique index on it was a second check of the same fact, one more index entry per event.
ALTER TABLE outbox DROP CONSTRAINT outbox_event_id_key;
