-- Adds a batch's changes to a customer's row; a sum past i64::MAX fails the statement, as in
-- daily_sales_completed.sql. A time the batch has none of (null) keeps the row's.
ON CONFLICT (customer_id) DO UPDATE SET
    orders_placed = CASE
        WHEN excluded.orders_placed > 9223372036854775807 - customer_activity.orders_placed
        THEN NULL
        ELSE customer_activity.orders_placed + excluded.orders_placed END,
    orders_completed = CASE
        WHEN excluded.orders_completed > 9223372036854775807 - customer_activity.orders_completed
        THEN NULL
        ELSE customer_activity.orders_completed + excluded.orders_completed END,
    orders_cancelled = CASE
        WHEN excluded.orders_cancelled > 9223372036854775807 - customer_activity.orders_cancelled
        THEN NULL
        ELSE customer_activity.orders_cancelled + excluded.orders_cancelled END,
    spent_cents = CASE
        WHEN excluded.spent_cents > 9223372036854775807 - customer_activity.spent_cents
        THEN NULL
        ELSE customer_activity.spent_cents + excluded.spent_cents END,
    refunded_cents = CASE
        WHEN excluded.refunded_cents > 9223372036854775807 - customer_activity.refunded_cents
        THEN NULL
        ELSE customer_activity.refunded_cents + excluded.refunded_cents END,
    first_order_at = CASE
        WHEN customer_activity.first_order_at IS NULL
          OR excluded.first_order_at < customer_activity.first_order_at
        THEN COALESCE(excluded.first_order_at, customer_activity.first_order_at)
        ELSE customer_activity.first_order_at END,
    last_order_at = CASE
        WHEN customer_activity.last_order_at IS NULL
          OR excluded.last_order_at > customer_activity.last_order_at
        THEN COALESCE(excluded.last_order_at, customer_activity.last_order_at)
        ELSE customer_activity.last_order_at END,
    reviews_written = CASE
        WHEN excluded.reviews_written > 9223372036854775807 - customer_activity.reviews_written
        THEN NULL
        ELSE customer_activity.reviews_written + excluded.reviews_written END,
    last_review_at = CASE
        WHEN customer_activity.last_review_at IS NULL
          OR excluded.last_review_at > customer_activity.last_review_at
        THEN COALESCE(excluded.last_review_at, customer_activity.last_review_at)
        ELSE customer_activity.last_review_at END,
    last_activity_at = excluded.last_activity_at
