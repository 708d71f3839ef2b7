UPDATE products SET price_cents = $2, version = $3, updated_at = $4 WHERE product_id = $1
