-- The `atlas` tileset as a PostGIS function source for Martin, for the side-by-side benchmark
-- (benches/tiles.sh): the same layers and attributes as compound-atlas builds, with ST_AsMVT.
-- The figures of the default window (the last 12 months of data) and the latest graded
-- quarter are materialised first in schema `bench` — the equivalent of compound-atlas's
-- in-memory figures — so that the function does per tile what a tile server must do.
CREATE SCHEMA IF NOT EXISTS bench;

DROP TABLE IF EXISTS bench.window;
CREATE TABLE bench.window AS
SELECT (date_trunc('month', max(received_at)) - interval '11 months')::date AS w_from,
       date_trunc('month', max(received_at))::date AS w_to,
       12 AS months,
       (SELECT max(period) FROM grades) AS period
FROM complaints;

DROP TABLE IF EXISTS bench.compound_fig;
CREATE TABLE bench.compound_fig AS
SELECT c.id, c.name, d.name AS district, s.name AS street, co.name AS company, c.households,
       (SELECT count(*) FROM buildings b WHERE b.compound_id = c.id) AS buildings,
       coalesce(st.n, 0)::bigint AS complaints, g.grade, c.district_code, c.street_code,
       c.geom, ST_Transform(c.geom, 3857) AS geom3857, ST_Transform(ST_PointOnSurface(c.geom), 3857) AS label3857
FROM compounds c
JOIN districts d ON d.code = c.district_code
JOIN streets s ON s.code = c.street_code
JOIN companies co ON co.id = c.company_id
LEFT JOIN (SELECT compound_id, sum(n) AS n FROM stats_compound_month, bench.window w
           WHERE month BETWEEN w.w_from AND w.w_to GROUP BY 1) st ON st.compound_id = c.id
LEFT JOIN grades g ON g.compound_id = c.id AND g.period = (SELECT period FROM bench.window);
CREATE INDEX ON bench.compound_fig USING gist (geom3857);

DROP TABLE IF EXISTS bench.building_fig;
CREATE TABLE bench.building_fig AS
SELECT b.id, b.compound_id, b.name, b.floors, b.households,
       (SELECT count(*) FROM units u WHERE u.building_id = b.id) AS units,
       coalesce(st.n, 0)::bigint AS complaints, ST_Transform(b.geom, 3857) AS geom3857
FROM buildings b
LEFT JOIN (SELECT building_id, sum(n) AS n FROM stats_building_month, bench.window w
           WHERE month BETWEEN w.w_from AND w.w_to GROUP BY 1) st ON st.building_id = b.id;
CREATE INDEX ON bench.building_fig USING gist (geom3857);

DROP TABLE IF EXISTS bench.unit_fig;
CREATE TABLE bench.unit_fig AS
SELECT u.id, u.building_id, u.name, u.households, coalesce(st.n, 0)::bigint AS complaints,
       ST_Transform(u.geom, 3857) AS geom3857
FROM units u
LEFT JOIN (SELECT unit_id, sum(n) AS n FROM stats_unit_month, bench.window w
           WHERE month BETWEEN w.w_from AND w.w_to GROUP BY 1) st ON st.unit_id = u.id;
CREATE INDEX ON bench.unit_fig USING gist (geom3857);

-- Areas: districts and streets with their aggregates.
DROP TABLE IF EXISTS bench.area_fig;
CREATE TABLE bench.area_fig AS
SELECT 'district' AS kind, d.code, d.name, NULL::text AS district, count(f.id) AS compounds,
       coalesce(sum(f.households), 0)::bigint AS households, coalesce(sum(f.complaints), 0)::bigint AS complaints,
       count(*) FILTER (WHERE f.grade = 'red') AS red, count(*) FILTER (WHERE f.grade = 'yellow') AS yellow,
       count(*) FILTER (WHERE f.grade = 'blue') AS blue,
       ST_Transform(d.geom, 3857) AS geom3857, ST_Transform(ST_PointOnSurface(d.geom), 3857) AS label3857
FROM districts d LEFT JOIN bench.compound_fig f ON f.district_code = d.code GROUP BY d.code, d.name, d.geom
UNION ALL
SELECT 'street', s.code, s.name, d.name, count(f.id), coalesce(sum(f.households), 0)::bigint, coalesce(sum(f.complaints), 0)::bigint,
       count(*) FILTER (WHERE f.grade = 'red'), count(*) FILTER (WHERE f.grade = 'yellow'), count(*) FILTER (WHERE f.grade = 'blue'),
       ST_Transform(s.geom, 3857), ST_Transform(ST_PointOnSurface(s.geom), 3857)
FROM streets s JOIN districts d ON d.code = s.district_code LEFT JOIN bench.compound_fig f ON f.street_code = s.code
GROUP BY s.code, s.name, d.name, s.geom;
CREATE INDEX ON bench.area_fig USING gist (geom3857);

-- Heat points: each placed complaint of the window at its unit (the residuals of buildings and
-- compounds at their centre), as compound-atlas places them.
DROP TABLE IF EXISTS bench.heat_point;
CREATE TABLE bench.heat_point AS
SELECT geom3857, complaints, households FROM bench.unit_fig
UNION ALL
SELECT ST_Centroid(b.geom3857), b.complaints - coalesce(u.n, 0), 0
FROM bench.building_fig b LEFT JOIN (SELECT building_id, sum(complaints) AS n FROM bench.unit_fig GROUP BY 1) u ON u.building_id = b.id
WHERE b.complaints > coalesce(u.n, 0)
UNION ALL
SELECT c.label3857, c.complaints - coalesce(b.n, 0), 0
FROM bench.compound_fig c LEFT JOIN (SELECT compound_id, sum(complaints) AS n FROM bench.building_fig GROUP BY 1) b ON b.compound_id = c.id
WHERE c.complaints > coalesce(b.n, 0);
CREATE INDEX ON bench.heat_point USING gist (geom3857);

CREATE OR REPLACE FUNCTION bench.density(n bigint, households bigint, months int) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN households > 0 THEN round((n::numeric * 100 * 12 / households / months), 2)::float8 ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION bench.density_class(n bigint, density double precision) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN n = 0 THEN 0 WHEN density < 3 THEN 1 WHEN density < 6 THEN 2
              WHEN density < 12 THEN 3 WHEN density < 24 THEN 4 ELSE 5 END
$$;

CREATE OR REPLACE FUNCTION bench.atlas(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  env geometry := ST_TileEnvelope(z, x, y);
  buf geometry := ST_TileEnvelope(z, x, y, margin => 64.0 / 4096);
  m int := 12;
  cell double precision := (ST_XMax(ST_TileEnvelope(z, x, y)) - ST_XMin(ST_TileEnvelope(z, x, y))) / 16;
  out bytea := '';
  part bytea;
BEGIN
  SELECT ST_AsMVT(t, 'districts', 4096, 'geom') INTO part FROM (
    SELECT code, name, compounds, households, complaints, bench.density(complaints, households, m) AS density, red, yellow, blue,
           ST_AsMVTGeom(geom3857, env, 4096, 64, true) AS geom
    FROM bench.area_fig WHERE kind = 'district' AND geom3857 && buf) t WHERE geom IS NOT NULL;
  out := out || coalesce(part, '');
  IF z >= 9 THEN
    SELECT ST_AsMVT(t, 'streets', 4096, 'geom') INTO part FROM (
      SELECT code, name, district, compounds, households, complaints, bench.density(complaints, households, m) AS density, red, yellow, blue,
             ST_AsMVTGeom(geom3857, env, 4096, 64, true) AS geom
      FROM bench.area_fig WHERE kind = 'street' AND geom3857 && buf) t WHERE geom IS NOT NULL;
    out := out || coalesce(part, '');
  END IF;
  IF z <= 15 THEN
    SELECT ST_AsMVT(t, 'heat', 4096, 'geom') INTO part FROM (
      SELECT sum(complaints) AS complaints, bench.density(sum(complaints)::bigint, sum(households)::bigint, m) AS density,
             ST_AsMVTGeom(ST_MakeEnvelope(ST_XMin(env) + cx * cell, ST_YMax(env) - (cy + 1) * cell,
                                          ST_XMin(env) + (cx + 1) * cell, ST_YMax(env) - cy * cell, 3857), env, 4096, 0, false) AS geom
      FROM (SELECT floor((ST_X(geom3857) - ST_XMin(env)) / cell) AS cx, floor((ST_YMax(env) - ST_Y(geom3857)) / cell) AS cy, complaints, households
            FROM bench.heat_point WHERE geom3857 && env) p
      WHERE cx BETWEEN 0 AND 15 AND cy BETWEEN 0 AND 15
      GROUP BY cx, cy HAVING sum(complaints) > 0) t;
    out := out || coalesce(part, '');
  END IF;
  IF z >= 11 THEN
    SELECT ST_AsMVT(t, 'compounds', 4096, 'geom', 'id') INTO part FROM (
      SELECT id, name, district, street, company, households, buildings, complaints,
             bench.density(complaints, households, m) AS density,
             bench.density_class(complaints, bench.density(complaints, households, m)) AS density_class, grade,
             ST_AsMVTGeom(geom3857, env, 4096, 64, true) AS geom
      FROM bench.compound_fig WHERE geom3857 && buf) t WHERE geom IS NOT NULL;
    out := out || coalesce(part, '');
  END IF;
  IF z >= 14 THEN
    SELECT ST_AsMVT(t, 'buildings', 4096, 'geom', 'id') INTO part FROM (
      SELECT id, compound_id, name, floors, units, households,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN NULL ELSE complaints END AS complaints,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN NULL ELSE bench.density(complaints, households, m) END AS density,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN 1 ELSE bench.density_class(complaints, bench.density(complaints, households, m)) END AS density_class,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN true END AS suppressed,
             ST_AsMVTGeom(geom3857, env, 4096, 64, true) AS geom
      FROM bench.building_fig WHERE geom3857 && buf) t WHERE geom IS NOT NULL;
    out := out || coalesce(part, '');
  END IF;
  IF z >= 16 THEN
    SELECT ST_AsMVT(t, 'units', 4096, 'geom', 'id') INTO part FROM (
      SELECT id, building_id, name, households,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN NULL ELSE complaints END AS complaints,
             CASE WHEN complaints BETWEEN 1 AND 2 THEN true END AS suppressed,
             ST_AsMVTGeom(geom3857, env, 4096, 64, true) AS geom
      FROM bench.unit_fig WHERE geom3857 && buf) t WHERE geom IS NOT NULL;
    out := out || coalesce(part, '');
  END IF;
  IF z >= 9 THEN
    SELECT ST_AsMVT(t, 'labels', 4096, 'geom') INTO part FROM (
      SELECT kind, code AS id, name, NULL::text AS grade, ST_AsMVTGeom(label3857, env, 4096, 0, true) AS geom
      FROM bench.area_fig WHERE label3857 && env
      UNION ALL
      SELECT 'compound', id::text, name, grade, ST_AsMVTGeom(label3857, env, 4096, 0, true)
      FROM bench.compound_fig WHERE z >= 11 AND label3857 && env) t WHERE geom IS NOT NULL;
    out := out || coalesce(part, '');
  END IF;
  RETURN out;
END
$$;
