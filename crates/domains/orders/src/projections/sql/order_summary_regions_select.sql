SELECT customer_id, region FROM customer_regions WHERE customer_id IN
