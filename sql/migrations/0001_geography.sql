-- The housing geography of a city: districts → streets → compounds → buildings → units,
-- and the property companies that run compounds. SRID 4326 (WGS 84; CGCS2000 is equal at
-- map scale). Constraints keep bad rows out whatever client writes them.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE districts (
    code     text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name     text NOT NULL CHECK (name <> ''),
    name_en  text NOT NULL DEFAULT '',
    geom     geometry(MultiPolygon, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND ST_IsValid(geom))
);
CREATE INDEX districts_geom_idx ON districts USING gist (geom);

CREATE TABLE streets (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]{9}$'),
    name           text NOT NULL CHECK (name <> ''),
    district_code  text NOT NULL REFERENCES districts (code),
    kind           text NOT NULL DEFAULT '街道',
    geom           geometry(MultiPolygon, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND ST_IsValid(geom))
);
CREATE INDEX streets_district_idx ON streets (district_code);
CREATE INDEX streets_geom_idx ON streets USING gist (geom);

CREATE TABLE companies (
    id    bigint PRIMARY KEY CHECK (id > 0),
    name  text NOT NULL CHECK (name <> '')
);

CREATE TABLE compounds (
    id             bigint PRIMARY KEY CHECK (id > 0),
    name           text NOT NULL CHECK (name <> ''),
    aliases        text[] NOT NULL DEFAULT '{}',
    district_code  text NOT NULL REFERENCES districts (code),
    street_code    text NOT NULL REFERENCES streets (code),
    company_id     bigint NOT NULL REFERENCES companies (id),
    year_built     integer NOT NULL CHECK (year_built BETWEEN 1900 AND 2100),
    households     integer NOT NULL CHECK (households >= 0),
    geom           geometry(MultiPolygon, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND ST_IsValid(geom))
);
CREATE INDEX compounds_street_idx ON compounds (street_code);
CREATE INDEX compounds_district_idx ON compounds (district_code);
CREATE INDEX compounds_company_idx ON compounds (company_id);
CREATE INDEX compounds_geom_idx ON compounds USING gist (geom);

CREATE TABLE buildings (
    id           bigint PRIMARY KEY CHECK (id > 0),
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> ''),
    floors       integer NOT NULL CHECK (floors BETWEEN 1 AND 150),
    households   integer NOT NULL CHECK (households >= 0),
    geom         geometry(Polygon, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom) AND ST_IsValid(geom))
);
CREATE INDEX buildings_compound_idx ON buildings (compound_id);
CREATE INDEX buildings_geom_idx ON buildings USING gist (geom);

CREATE TABLE units (
    id           bigint PRIMARY KEY CHECK (id > 0),
    building_id  bigint NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> ''),
    households   integer NOT NULL CHECK (households >= 0),
    geom         geometry(Point, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX units_building_idx ON units (building_id);
CREATE INDEX units_geom_idx ON units USING gist (geom);
