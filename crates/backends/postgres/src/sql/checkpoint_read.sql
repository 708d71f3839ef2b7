SELECT position, last_event_at FROM _projector_checkpoint WHERE id = 1
