-- Compounds meeting the box $1..$4; $5 the ids to keep (NULL: all), $6 limit.
SELECT id, NULL::float8 AS d FROM compounds
WHERE ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))
  AND ($5::bigint[] IS NULL OR id = ANY($5))
ORDER BY id LIMIT $6
