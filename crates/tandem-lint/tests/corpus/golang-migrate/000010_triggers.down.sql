DROP POLICY users_self ON users;
DROP TRIGGER audit_users ON users;
