INSERT INTO customer_activity (
    customer_id, orders_placed, orders_completed, orders_cancelled, spent_cents,
    refunded_cents, first_order_at, last_order_at, last_activity_at
) VALUES ($1, 1, 0, 0, 0, 0, $2, $2, $3)
ON CONFLICT (customer_id) DO UPDATE SET
    orders_placed = customer_activity.orders_placed + 1,
    first_order_at = CASE WHEN excluded.first_order_at < customer_activity.first_order_at
                          THEN excluded.first_order_at ELSE customer_activity.first_order_at END,
    last_order_at = CASE WHEN excluded.last_order_at > customer_activity.last_order_at
                         THEN excluded.last_order_at ELSE customer_activity.last_order_at END,
    last_activity_at = excluded.last_activity_at
