-- When complaints come in (issue 16, part 7): per compound, month and category the placed
-- complaints by hour of the week as the export writes their time (ISO weekday − 1) × 24 +
-- hour, 0 = Monday 00h … 167 = Sunday 23h.
CREATE TABLE stats_compound_clock (
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    month        date NOT NULL,
    category     text NOT NULL,
    slot         smallint NOT NULL CHECK (slot BETWEEN 0 AND 167),
    n            integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (compound_id, month, category, slot)
);

INSERT INTO stats_compound_clock (compound_id, month, category, slot, n)
SELECT compound_id, date_trunc('month', received_at)::date, category,
       ((extract(isodow FROM received_at)::int - 1) * 24 + extract(hour FROM received_at)::int)::smallint,
       count(*)
FROM complaints WHERE compound_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
