SELECT event_id FROM projector.events WHERE event_id = ANY ($1) LIMIT 1
