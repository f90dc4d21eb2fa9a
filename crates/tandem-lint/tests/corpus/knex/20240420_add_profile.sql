-- knex migration, queries as logged by DEBUG=knex:query
set lock_timeout = '2s';
alter table "users" add column "bio" text;
alter table "users" add column "avatar_url" varchar(255);
alter table "users" add column "uuid" uuid not null default gen_random_uuid();
create index "users_bio_index" on "users" ("bio");
update "users" set "bio" = '';
