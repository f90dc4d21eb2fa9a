-- disable_ddl_transaction! + algorithm: :concurrently, as strong_migrations recommends
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY "index_orders_on_customer_id" ON "orders" ("customer_id");
ALTER TABLE "orders" VALIDATE CONSTRAINT "fk_rails_3dad120da3";
