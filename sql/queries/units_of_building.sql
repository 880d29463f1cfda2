SELECT id, building_id, name, households, ST_X(geom) AS x, ST_Y(geom) AS y
FROM units WHERE building_id = $1 ORDER BY id
