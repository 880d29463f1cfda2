-- Upsert staged rows into units by key; unchanged rows are not rewritten.
INSERT INTO units SELECT * FROM stage_units
ON CONFLICT (id) DO UPDATE SET building_id = EXCLUDED.building_id, name = EXCLUDED.name, households = EXCLUDED.households, geom = EXCLUDED.geom
WHERE (units.*) IS DISTINCT FROM (EXCLUDED.*)
