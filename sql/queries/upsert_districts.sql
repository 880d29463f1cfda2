-- Upsert staged rows into districts by key; unchanged rows are not rewritten.
INSERT INTO districts SELECT * FROM stage_districts
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, geom = EXCLUDED.geom
WHERE (districts.*) IS DISTINCT FROM (EXCLUDED.*)
