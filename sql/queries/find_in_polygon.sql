-- Compounds meeting the (multi)polygon $1 (WKB); $2 the ids to keep (NULL: all), $3 limit.
SELECT id, NULL::float8 AS d FROM compounds
WHERE ST_Intersects(geom, ST_GeomFromWKB($1, 4326))
  AND ($2::bigint[] IS NULL OR id = ANY($2))
ORDER BY id LIMIT $3
