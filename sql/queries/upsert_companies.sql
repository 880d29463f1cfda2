-- Upsert staged rows into companies by key; unchanged rows are not rewritten.
INSERT INTO companies SELECT * FROM stage_companies
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
WHERE (companies.*) IS DISTINCT FROM (EXCLUDED.*)
