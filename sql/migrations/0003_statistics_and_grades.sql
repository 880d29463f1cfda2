-- Monthly complaint counts, materialised for tiles and queries (refreshed per compound after
-- each import), the grade override audit trail, and computed grades per quarter.
CREATE TABLE stats_compound_month (
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    month        date NOT NULL,
    category     text NOT NULL,
    n            integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (compound_id, month, category)
);
CREATE INDEX stats_compound_month_month_idx ON stats_compound_month (month);

CREATE TABLE stats_building_month (
    building_id  bigint NOT NULL REFERENCES buildings (id) ON DELETE CASCADE,
    month        date NOT NULL,
    n            integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (building_id, month)
);

CREATE TABLE stats_unit_month (
    unit_id  bigint NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    month    date NOT NULL,
    n        integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (unit_id, month)
);

CREATE TABLE grade_overrides (
    id           bigserial PRIMARY KEY,
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    period       text NOT NULL CHECK (period ~ '^[0-9]{4}Q[1-4]$'),
    grade        text NOT NULL CHECK (grade IN ('red', 'yellow', 'blue')),
    reason       text NOT NULL CHECK (reason <> ''),
    author       text NOT NULL CHECK (author <> ''),
    at           timestamp NOT NULL DEFAULT now()
);
CREATE INDEX grade_overrides_compound_idx ON grade_overrides (compound_id, period);

CREATE TABLE grades (
    period          text NOT NULL,
    compound_id     bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    grade           text NOT NULL CHECK (grade IN ('red', 'yellow', 'blue')),
    computed_grade  text NOT NULL CHECK (computed_grade IN ('red', 'yellow', 'blue')),
    rate            double precision NOT NULL,
    rank            integer NOT NULL,
    of_n            integer NOT NULL,
    held            boolean NOT NULL,
    rule_version    text NOT NULL,
    PRIMARY KEY (period, compound_id)
);
