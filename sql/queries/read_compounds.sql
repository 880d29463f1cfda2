SELECT id, name, aliases, district_code, street_code, company_id, year_built, households,
       ST_AsBinary(geom) AS wkb
FROM compounds ORDER BY id
