SELECT coalesce(max(stream_version), 0) FROM projector.events WHERE stream_id = $1
