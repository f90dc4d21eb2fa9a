CREATE OR REPLACE VIEW recent_payments AS SELECT * FROM payments WHERE created_at > now() - interval '7 days';
