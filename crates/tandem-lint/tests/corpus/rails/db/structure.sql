-- db/structure.sql as `rails db:schema:dump` writes it (read as the starting schema, not linted)
SET statement_timeout = 0;
SET lock_timeout = 0;
CREATE TABLE public.customers (
    id bigint NOT NULL,
    name character varying(100)
);
CREATE TABLE public.orders (
    id bigint NOT NULL,
    note character varying(100),
    total integer
);
CREATE INDEX index_orders_on_total ON public.orders USING btree (total);
INSERT INTO "schema_migrations" (version) VALUES
('20240101000000');
