-- no-transaction
SET lock_timeout = '2s';
SET statement_timeout = '5min';
UPDATE accounts SET region = 'eu' WHERE id >= 1 AND id < 10001 AND region IS NULL;
DELETE FROM sessions WHERE expires_at < now() - interval '90 days';
ALTER TABLE accounts ALTER COLUMN region SET DEFAULT 'eu';
