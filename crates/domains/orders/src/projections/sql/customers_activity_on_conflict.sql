ON CONFLICT (customer_id) DO UPDATE SET
    orders_placed = customer_activity.orders_placed + excluded.orders_placed,
    orders_completed = customer_activity.orders_completed + excluded.orders_completed,
    orders_cancelled = customer_activity.orders_cancelled + excluded.orders_cancelled,
    spent_cents = customer_activity.spent_cents + excluded.spent_cents,
    refunded_cents = customer_activity.refunded_cents + excluded.refunded_cents,
    first_order_at = CASE WHEN excluded.first_order_at < customer_activity.first_order_at
                          THEN excluded.first_order_at ELSE customer_activity.first_order_at END,
    last_order_at = CASE WHEN excluded.last_order_at > customer_activity.last_order_at
                         THEN excluded.last_order_at ELSE customer_activity.last_order_at END,
    last_activity_at = excluded.last_activity_at
