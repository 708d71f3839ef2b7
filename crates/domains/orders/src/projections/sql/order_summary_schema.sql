-- The flattened order: one row per order. Amounts are whole cents, so sums are exact
-- (version 1 of this read model kept them as DOUBLE PRECISION decimals).
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
    cancellation_reason TEXT
)
