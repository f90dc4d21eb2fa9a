UPDATE users SET org_name = NULL;
