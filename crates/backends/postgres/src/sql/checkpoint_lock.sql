-- Locks the generation's checkpoint row for the batch: a second writer of the same generation
-- waits here rather than interleave, and a dropped generation fails here, before any of the
-- projection's statements run.
SELECT position, last_event_at FROM _projector_checkpoint WHERE id = 1 FOR UPDATE
