ON CONFLICT (order_id) DO UPDATE SET
    customer_id = excluded.customer_id,
    status = excluded.status,
    item_count = excluded.item_count,
    total_cents = excluded.total_cents,
    refunded_cents = excluded.refunded_cents,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    shipped_at = excluded.shipped_at,
    tracking = excluded.tracking,
    completed_at = excluded.completed_at,
    cancelled_at = excluded.cancelled_at,
    cancellation_reason = excluded.cancellation_reason,
    customer_region = excluded.customer_region
