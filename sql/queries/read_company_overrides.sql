SELECT company_id, period, from_list, list, reason, author, at FROM company_list_overrides ORDER BY id
