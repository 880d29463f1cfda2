-- $1..$4 west, south, east, north; $5 limit.
SELECT id, name, aliases, district_code, street_code, company_id, year_built, households,
       ST_AsBinary(geom) AS wkb
FROM compounds
WHERE geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)
ORDER BY id LIMIT $5
