INSERT INTO customer_regions (customer_id, region, position)
