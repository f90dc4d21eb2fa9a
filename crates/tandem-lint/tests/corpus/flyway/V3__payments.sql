-- Flyway versioned migration
CREATE TABLE payments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    amount NUMERIC(12,2) NOT NULL,
    currency CHAR(3) NOT NULL,
    payload JSON,
    paid_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX payments_order_id_idx ON payments (order_id);
ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount > 0);
