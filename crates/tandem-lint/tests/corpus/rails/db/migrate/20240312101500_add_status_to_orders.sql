-- SQL executed by `rails db:migrate` for AddStatusToOrders (from the migration log)
ALTER TABLE "orders" ADD "status" character varying DEFAULT 'pending' NOT NULL;
CREATE INDEX "index_orders_on_status" ON "orders" ("status");
ALTER TABLE "orders" ADD "shipped_at" timestamp(6);
ALTER TABLE "orders" ADD "customer_id" integer;
ALTER TABLE "orders" ADD CONSTRAINT "fk_rails_3dad120da3"
FOREIGN KEY ("customer_id")
  REFERENCES "customers" ("id")
;
