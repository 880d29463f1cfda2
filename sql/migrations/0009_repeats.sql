-- Repeat complaints (issue 16, part 3): per compound, month, category and place (the unit, or
-- the building where the unit is not known) the placed complaints by their gap — the days
-- from the previous complaint of the same place and category (local dates as received), 255
-- for none or 255 days and more. A repeat is a complaint whose gap is at most `[repeats]
-- days`, read when asked, so the tables need no change when that setting does.

-- The first fill reads every stored complaint: no statement timeout for it (sqlx runs a
-- migration in one transaction; SET LOCAL ends with it).
SET LOCAL statement_timeout = 0;
CREATE TABLE stats_compound_repeats (
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    month        date NOT NULL,
    category     text NOT NULL,
    is_unit      boolean NOT NULL,
    place_id     bigint NOT NULL,
    gap          smallint NOT NULL CHECK (gap BETWEEN 0 AND 255),
    n            integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (compound_id, month, category, is_unit, place_id, gap)
);

INSERT INTO stats_compound_repeats (compound_id, month, category, is_unit, place_id, gap, n)
SELECT compound_id, month, category, is_unit, place_id, gap, count(*)
FROM (
    SELECT compound_id, date_trunc('month', received_at)::date AS month, category,
           unit_id IS NOT NULL AS is_unit, coalesce(unit_id, building_id) AS place_id,
           least(255, coalesce(received_at::date - lag(received_at::date) OVER (
               PARTITION BY compound_id, unit_id IS NOT NULL, coalesce(unit_id, building_id), category
               ORDER BY received_at), 255))::smallint AS gap
    FROM complaints
    WHERE compound_id IS NOT NULL AND coalesce(unit_id, building_id) IS NOT NULL
) g
GROUP BY 1, 2, 3, 4, 5, 6;
