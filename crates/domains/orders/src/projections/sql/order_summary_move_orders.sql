UPDATE order_summary SET customer_region = $1 WHERE customer_id = $2
