ON CONFLICT (customer_id) DO UPDATE SET region = excluded.region, position = excluded.position
    WHERE excluded.position > customer_regions.position
