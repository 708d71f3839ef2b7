-- Waits for, then holds to commit, the lock every append takes on the head row, so the next
-- statement's snapshot (taken after it) sees every append that came before.
SELECT head FROM projector.feed_head WHERE id = 1 FOR UPDATE
