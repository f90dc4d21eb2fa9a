DROP INDEX IF EXISTS orders_legacy_idx;
ALTER TABLE orders DROP COLUMN legacy_code;
TRUNCATE audit_log CASCADE;
VACUUM FULL orders;
