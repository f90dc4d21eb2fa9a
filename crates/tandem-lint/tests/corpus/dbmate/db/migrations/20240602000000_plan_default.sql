-- migrate:up
ALTER TABLE accounts ALTER COLUMN plan TYPE varchar(50);
UPDATE accounts SET plan = 'free' WHERE plan IS NULL;
ALTER TABLE accounts ALTER COLUMN plan SET NOT NULL;

-- migrate:down
ALTER TABLE accounts ALTER COLUMN plan DROP NOT NULL;
DROP INDEX accounts_email;
