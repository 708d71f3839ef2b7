-- The fields a ProductUpdated names; a NULL parameter leaves its column as it is.
UPDATE products SET
    name = COALESCE($2, name),
    description = COALESCE($3, description),
    category = COALESCE($4, category),
    tags = COALESCE($5, tags),
    version = $6,
    updated_at = $7
WHERE product_id = $1
