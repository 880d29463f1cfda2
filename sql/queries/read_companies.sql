SELECT id, name FROM companies ORDER BY id
