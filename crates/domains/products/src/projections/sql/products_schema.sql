-- Each live product as it stands: a deleted product's row is removed. Prices are whole cents;
-- tags are a JSON array of slugs, in the order given; version is the product stream's version
-- the row reflects (the ETag clients send back in If-Match); created_at and updated_at are the
-- times the product's first and last events carry.
CREATE TABLE IF NOT EXISTS products (
    product_id   TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    category     TEXT NOT NULL,
    price_cents  BIGINT NOT NULL,
    tags         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS products_by_category ON products (category, product_id)
