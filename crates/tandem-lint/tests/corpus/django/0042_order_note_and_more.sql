BEGIN;
--
-- Add field note to order
--
ALTER TABLE "shop_order" ADD COLUMN "note" text DEFAULT '' NOT NULL;
ALTER TABLE "shop_order" ALTER COLUMN "note" DROP DEFAULT;
--
-- Alter field price on product
--
ALTER TABLE "shop_product" ALTER COLUMN "price" TYPE numeric(12, 2) USING "price"::numeric(12, 2);
--
-- Rename field title on product to name
--
ALTER TABLE "shop_product" RENAME COLUMN "title" TO "name";
--
-- Alter unique_together for product (1 constraint(s))
--
ALTER TABLE "shop_product" ADD CONSTRAINT "shop_product_sku_vendor_id_0f3b2a_uniq" UNIQUE ("sku", "vendor_id");
COMMIT;
