-- Planner queries measure true distances on the spheroid through `geography`: an index on
-- the compounds' geography lets ST_DWithin(geom::geography, …) find candidates without a
-- scan of every compound.
CREATE INDEX IF NOT EXISTS compounds_geog_idx ON compounds USING gist ((geom::geography));
