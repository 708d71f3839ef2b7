INSERT INTO daily_sales (day, orders_completed, items_sold, gross_cents, refunds, refunded_cents, updated_at)
VALUES ($1, 1, $2, $3, 0, 0, $4)
ON CONFLICT (day) DO UPDATE SET
    orders_completed = daily_sales.orders_completed + 1,
    items_sold = daily_sales.items_sold + excluded.items_sold,
    gross_cents = daily_sales.gross_cents + excluded.gross_cents,
    updated_at = excluded.updated_at
