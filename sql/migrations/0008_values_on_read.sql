-- A thread's values and a run's output are read from checkpoints (engine/durable/values.py), not stored
-- per run: a long thread wrote its whole state into both rows every turn.
ALTER TABLE threads DROP COLUMN "values";
