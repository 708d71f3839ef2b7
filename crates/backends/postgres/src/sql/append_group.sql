-- One statement, so one round trip and its own transaction: the function locks the feed head,
-- checks and inserts every append of the group, moves the head and notifies listeners.
SELECT o_outcome, o_version, o_first_position, o_duplicate
FROM projector.append_group($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
