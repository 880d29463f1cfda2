SELECT code, name, district_code, kind, ST_AsBinary(geom) AS wkb FROM streets ORDER BY code
