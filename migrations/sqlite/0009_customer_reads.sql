-- Reads for one customer: its staged customer records and documents by (entity, source,
-- customer key), for the credit and 360 views (src/store/lookup.rs).
CREATE INDEX staged_by_customer ON staged (entity, connector, customer_key);
