-- Upsert staged rows into compounds by key; unchanged rows are not rewritten.
INSERT INTO compounds SELECT * FROM stage_compounds
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, aliases = EXCLUDED.aliases, district_code = EXCLUDED.district_code, street_code = EXCLUDED.street_code, company_id = EXCLUDED.company_id, year_built = EXCLUDED.year_built, households = EXCLUDED.households, geom = EXCLUDED.geom
WHERE (compounds.*) IS DISTINCT FROM (EXCLUDED.*)
