-- Charges a refund back to the day its order completed; a sum past i64::MAX fails the
-- statement, as in daily_sales_completed.sql.
INSERT INTO daily_sales (day, orders_completed, items_sold, gross_cents, refunds, refunded_cents, updated_at)
VALUES ($1, 0, 0, 0, 1, $2, $3)
ON CONFLICT (day) DO UPDATE SET
    refunds = CASE
        WHEN excluded.refunds > 9223372036854775807 - daily_sales.refunds
        THEN NULL
        ELSE daily_sales.refunds + excluded.refunds END,
    refunded_cents = CASE
        WHEN excluded.refunded_cents > 9223372036854775807 - daily_sales.refunded_cents
        THEN NULL
        ELSE daily_sales.refunded_cents + excluded.refunded_cents END,
    updated_at = excluded.updated_at
