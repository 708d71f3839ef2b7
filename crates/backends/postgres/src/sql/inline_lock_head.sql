-- The head lock every append takes (`lock_head.sql`), with the time the transaction began:
-- the `recorded_at` its events get, which the inline projections see.
SELECT head, now() FROM projector.feed_head WHERE id = 1 FOR UPDATE
