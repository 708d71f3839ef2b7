-- Sales per calendar day (UTC). A sale counts on the day its order completed; a refund is
-- charged back to that same day, so each day's net revenue is what its sales finally earned.
CREATE TABLE IF NOT EXISTS daily_sales (
    day               TEXT PRIMARY KEY,
    orders_completed  BIGINT NOT NULL,
    items_sold        BIGINT NOT NULL,
    gross_cents       BIGINT NOT NULL,
    refunds           BIGINT NOT NULL,
    refunded_cents    BIGINT NOT NULL,
    updated_at        TEXT NOT NULL
)
