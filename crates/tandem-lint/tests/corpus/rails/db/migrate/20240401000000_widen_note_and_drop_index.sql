-- The column type is known from structure.sql: varchar widening is catalog-only.
SET lock_timeout = '5s';
ALTER TABLE "orders" ALTER COLUMN "note" TYPE character varying(500);
DROP INDEX "index_orders_on_total";
