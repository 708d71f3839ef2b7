SELECT stream_version FROM events WHERE stream_id = ?1 ORDER BY stream_version DESC LIMIT 1
