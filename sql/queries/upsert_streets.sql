-- Upsert staged rows into streets by key; unchanged rows are not rewritten.
INSERT INTO streets SELECT * FROM stage_streets
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, district_code = EXCLUDED.district_code, kind = EXCLUDED.kind, geom = EXCLUDED.geom
WHERE (streets.*) IS DISTINCT FROM (EXCLUDED.*)
