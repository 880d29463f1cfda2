SELECT id, compound_id, name, floors, households, ST_AsBinary(geom) AS wkb
FROM buildings ORDER BY id
