-- The flattened order: one row per order. Amounts are whole cents, so sums are exact
-- (version 1 of this read model kept them as DOUBLE PRECISION decimals). The customer's
-- region is null until they register, and follows them when they move (version 3).
CREATE TABLE IF NOT EXISTS order_summary (
    order_id            TEXT PRIMARY KEY,
    customer_id         TEXT NOT NULL,
    status              TEXT NOT NULL,
    item_count          BIGINT NOT NULL,
    total_cents         BIGINT NOT NULL,
    refunded_cents      BIGINT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    shipped_at          TEXT,
    tracking            TEXT,
    completed_at        TEXT,
    cancelled_at        TEXT,
    cancellation_reason TEXT,
    customer_region     TEXT
);

-- A customer's orders, all found by one index scan when the customer moves.
CREATE INDEX IF NOT EXISTS order_summary_by_customer ON order_summary (customer_id);

-- Where each registered customer lives now, from their own events: an order placed later
-- takes its region from here. `position` is the event that set it: a write of an older
-- event never replaces it, so partitions applying a customer's events at different times
-- leave the latest region here (version 4).
CREATE TABLE IF NOT EXISTS customer_regions (
    customer_id TEXT PRIMARY KEY,
    region      TEXT NOT NULL,
    position    BIGINT NOT NULL
)
