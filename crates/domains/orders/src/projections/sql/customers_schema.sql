-- "My orders": every order of a customer, newest first.
CREATE TABLE IF NOT EXISTS customer_orders (
    order_id     TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    item_count   BIGINT NOT NULL,
    total_cents  BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS customer_orders_newest_first
    ON customer_orders (customer_id, created_at DESC, order_id DESC);

-- What each customer has done, in one row.
CREATE TABLE IF NOT EXISTS customer_activity (
    customer_id       TEXT PRIMARY KEY,
    orders_placed     BIGINT NOT NULL,
    orders_completed  BIGINT NOT NULL,
    orders_cancelled  BIGINT NOT NULL,
    spent_cents       BIGINT NOT NULL,
    refunded_cents    BIGINT NOT NULL,
    first_order_at    TEXT NOT NULL,
    last_order_at     TEXT NOT NULL,
    last_activity_at  TEXT NOT NULL
)
