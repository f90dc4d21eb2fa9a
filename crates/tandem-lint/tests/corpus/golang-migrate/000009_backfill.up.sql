SET lock_timeout = '2s';
UPDATE users u SET org_name = o.name FROM orgs o WHERE u.org_id = o.id;
DELETE FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id);
