-- migrate:up
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, plan varchar(20));
CREATE INDEX accounts_email ON accounts (email);

-- migrate:down
DROP TABLE accounts;
