-- +goose Up
CREATE UNLOGGED TABLE features (id bigint PRIMARY KEY, name text NOT NULL);

-- +goose Down
DROP TABLE features;
