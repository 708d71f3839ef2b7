DELETE FROM products WHERE product_id = $1
