-- Who each registered customer is, with their tier.
CREATE TABLE IF NOT EXISTS customer_profiles (
    customer_id    TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    region         TEXT NOT NULL,
    tier           TEXT NOT NULL,
    registered_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

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

-- What each customer has done, in one row: kept from their orders and reviews whether or not
-- they have registered, so an order placed before registration counts. The times of orders
-- and reviews are null until there is one.
CREATE TABLE IF NOT EXISTS customer_activity (
    customer_id       TEXT PRIMARY KEY,
    orders_placed     BIGINT NOT NULL,
    orders_completed  BIGINT NOT NULL,
    orders_cancelled  BIGINT NOT NULL,
    spent_cents       BIGINT NOT NULL,
    refunded_cents    BIGINT NOT NULL,
    first_order_at    TEXT,
    last_order_at     TEXT,
    reviews_written   BIGINT NOT NULL,
    last_review_at    TEXT,
    last_activity_at  TEXT NOT NULL
);

-- Each customer's reviews, one per product.
CREATE TABLE IF NOT EXISTS customer_reviews (
    customer_id   TEXT NOT NULL,
    product_id    TEXT NOT NULL,
    rating        BIGINT NOT NULL,
    text          TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    PRIMARY KEY (customer_id, product_id)
)
