-- Adds a completed order to its day. A sum past i64::MAX becomes NULL, which the NOT NULL
-- column refuses, so the statement fails at that event on every store (left alone, PostgreSQL
-- would fail less tellingly and SQLite would store a REAL): "b > MAX - a" is "a + b > MAX" for
-- the non-negative counters here, computed without ever passing MAX.
INSERT INTO daily_sales (day, orders_completed, items_sold, gross_cents, refunds, refunded_cents, updated_at)
VALUES ($1, 1, $2, $3, 0, 0, $4)
ON CONFLICT (day) DO UPDATE SET
    orders_completed = CASE
        WHEN excluded.orders_completed > 9223372036854775807 - daily_sales.orders_completed
        THEN NULL
        ELSE daily_sales.orders_completed + excluded.orders_completed END,
    items_sold = CASE
        WHEN excluded.items_sold > 9223372036854775807 - daily_sales.items_sold
        THEN NULL
        ELSE daily_sales.items_sold + excluded.items_sold END,
    gross_cents = CASE
        WHEN excluded.gross_cents > 9223372036854775807 - daily_sales.gross_cents
        THEN NULL
        ELSE daily_sales.gross_cents + excluded.gross_cents END,
    updated_at = excluded.updated_at
