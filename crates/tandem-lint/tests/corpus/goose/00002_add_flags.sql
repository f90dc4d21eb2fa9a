-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE features ADD COLUMN enabled boolean NOT NULL DEFAULT false;
  CREATE INDEX features_enabled ON features (enabled);
END
$$;
-- +goose StatementEnd
ALTER TABLE features SET LOGGED;

-- +goose Down
ALTER TABLE features DROP COLUMN enabled;
