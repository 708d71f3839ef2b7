SELECT head FROM projector.feed_head WHERE id = 1
