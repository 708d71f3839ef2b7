INSERT INTO order_summary (
    order_id, customer_id, status, item_count, total_cents, refunded_cents,
    created_at, updated_at, shipped_at, tracking, completed_at, cancelled_at,
    cancellation_reason, customer_region
)
