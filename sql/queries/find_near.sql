-- Compounds within $3 metres of the point ($1 lon, $2 lat) on the spheroid, nearest first;
-- $4 the ids to keep (NULL: all), $5 limit.
SELECT c.id, ST_Distance(c.geom::geography, q.pt) AS d
FROM compounds c, (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography AS pt) q
WHERE ST_DWithin(c.geom::geography, q.pt, $3)
  AND ($4::bigint[] IS NULL OR c.id = ANY($4))
ORDER BY d, c.id LIMIT $5
