SELECT id, compound_id, name, floors, households, ST_AsBinary(geom) AS wkb
FROM buildings WHERE compound_id = $1 ORDER BY id
