INSERT INTO customer_activity (
    customer_id, orders_placed, orders_completed, orders_cancelled, spent_cents,
    refunded_cents, first_order_at, last_order_at, reviews_written, last_review_at,
    last_activity_at
)
