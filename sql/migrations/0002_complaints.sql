-- Hotline complaints, placed on a unit, building and compound by the geocoder. The
-- complainant's personal data lives apart, in schema `private`, which no public query reads.
CREATE TABLE complaints (
    ticket_id     text PRIMARY KEY CHECK (ticket_id <> ''),
    received_at   timestamp NOT NULL,
    category      text NOT NULL CHECK (category IN (
                      'sanitation', 'order', 'fire_lane', 'fire_facility', 'stairwell_clutter',
                      'flying_wire', 'repairs', 'greening', 'fees', 'committee')),
    channel       text NOT NULL DEFAULT '',
    address       text NOT NULL CHECK (address <> ''),
    lon           double precision CHECK (lon BETWEEN 119.0 AND 122.0),
    lat           double precision CHECK (lat BETWEEN 35.0 AND 37.5),
    geom          geometry(Point, 4326) GENERATED ALWAYS AS (
                      CASE WHEN lon IS NULL OR lat IS NULL THEN NULL
                           ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END) STORED,
    status        text NOT NULL DEFAULT '',
    satisfaction  text,
    compound_id   bigint REFERENCES compounds (id) ON DELETE SET NULL,
    building_id   bigint REFERENCES buildings (id) ON DELETE SET NULL,
    unit_id       bigint REFERENCES units (id) ON DELETE SET NULL,
    match_method  text,
    unmatched_reason text,
    CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX complaints_received_idx ON complaints (received_at);
CREATE INDEX complaints_compound_idx ON complaints (compound_id, received_at);
CREATE INDEX complaints_geom_idx ON complaints USING gist (geom);

CREATE SCHEMA IF NOT EXISTS private;
CREATE TABLE private.complaint_contacts (
    ticket_id     text PRIMARY KEY REFERENCES complaints (ticket_id) ON DELETE CASCADE,
    caller_name   text NOT NULL DEFAULT '',
    caller_phone  text NOT NULL DEFAULT '',
    content       text NOT NULL DEFAULT ''
);
