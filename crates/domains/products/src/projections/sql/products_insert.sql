INSERT INTO products (
    product_id, name, description, category, price_cents, tags, version, created_at, updated_at
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
