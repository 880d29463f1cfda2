-- Upsert staged rows into buildings by key; unchanged rows are not rewritten.
INSERT INTO buildings SELECT * FROM stage_buildings
ON CONFLICT (id) DO UPDATE SET compound_id = EXCLUDED.compound_id, name = EXCLUDED.name, floors = EXCLUDED.floors, households = EXCLUDED.households, geom = EXCLUDED.geom
WHERE (buildings.*) IS DISTINCT FROM (EXCLUDED.*)
