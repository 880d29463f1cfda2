-- Compounds within $2 metres of the line $1 (WKB) on the spheroid, nearest first; $3 the ids
-- to keep (NULL: all), $4 limit.
SELECT c.id, ST_Distance(c.geom::geography, q.line) AS d
FROM compounds c, (SELECT ST_GeomFromWKB($1, 4326)::geography AS line) q
WHERE ST_DWithin(c.geom::geography, q.line, $2)
  AND ($3::bigint[] IS NULL OR c.id = ANY($3))
ORDER BY d, c.id LIMIT $4
