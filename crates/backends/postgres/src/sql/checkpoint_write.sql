UPDATE _projector_checkpoint SET position = $1, last_event_at = $2, updated_at = now() WHERE id = 1
