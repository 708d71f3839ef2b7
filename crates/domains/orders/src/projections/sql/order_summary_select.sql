SELECT order_id, customer_id, status, item_count, total_cents, refunded_cents,
       created_at, updated_at, shipped_at, tracking, completed_at, cancelled_at,
       cancellation_reason
FROM order_summary
WHERE order_id = $1
