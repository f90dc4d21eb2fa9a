BEGIN;
--
-- Raw SQL operation
--
SET LOCAL lock_timeout = '3s';
ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_note_not_null" CHECK ("note" IS NOT NULL) NOT VALID;
COMMIT;
ALTER TABLE "shop_order" VALIDATE CONSTRAINT "shop_order_note_not_null";
ALTER TABLE "shop_order" ALTER COLUMN "note" SET NOT NULL;
ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_note_not_null";
