SELECT code, name, name_en, ST_AsBinary(geom) AS wkb FROM districts ORDER BY code
