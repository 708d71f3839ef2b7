INSERT INTO daily_sales (day, orders_completed, items_sold, gross_cents, refunds, refunded_cents, updated_at)
VALUES ($1, 0, 0, 0, 1, $2, $3)
ON CONFLICT (day) DO UPDATE SET
    refunds = daily_sales.refunds + 1,
    refunded_cents = daily_sales.refunded_cents + excluded.refunded_cents,
    updated_at = excluded.updated_at
