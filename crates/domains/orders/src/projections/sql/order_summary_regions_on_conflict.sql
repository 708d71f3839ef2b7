ON CONFLICT (customer_id) DO UPDATE SET region = excluded.region
