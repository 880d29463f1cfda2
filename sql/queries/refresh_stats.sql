-- Re-table the monthly statistics of the months new complaints fell in, compound by compound
-- (temp table `touched_months`): a month's import re-tables that month of each compound it
-- touched, not every month of it, and the first import every month once. The repeats re-table
-- the months a new complaint can change: its own and the nine after it (it can be the
-- complaint before one up to 254 days later, which from the 20th of a month on falls nine
-- months on). Complaints are only ever added, never changed,
-- so a month's figures are whole again once re-tabled from every complaint it holds.
CREATE TEMP TABLE touched_months ON COMMIT DROP AS
SELECT DISTINCT compound_id, date_trunc('month', received_at)::date AS month
FROM stage_complaints WHERE compound_id IS NOT NULL;
ANALYZE touched_months;
CREATE TEMP TABLE recount ON COMMIT DROP AS
SELECT c.compound_id, t.month, c.received_at, c.category, c.status, c.satisfaction,
       c.building_id, c.unit_id, c.responded_at, c.closed_at
FROM touched_months t
JOIN complaints c ON c.compound_id = t.compound_id
                 AND date_trunc('month', c.received_at)::date = t.month
                 AND c.received_at >= t.month AND c.received_at < t.month + interval '1 month';
ANALYZE recount;

DELETE FROM stats_compound_month s USING touched_months t
WHERE s.compound_id = t.compound_id AND s.month = t.month;
INSERT INTO stats_compound_month (compound_id, month, category, n)
SELECT compound_id, month, category, count(*)
FROM recount
GROUP BY 1, 2, 3;

-- A building's (unit's) month is re-tabled from the complaints of that month of the compound
-- the complaints name, which hold all of its own while buildings stay in their compounds.
DELETE FROM stats_building_month s
USING (SELECT DISTINCT building_id, month FROM recount WHERE building_id IS NOT NULL) r
WHERE s.building_id = r.building_id AND s.month = r.month;
INSERT INTO stats_building_month (building_id, month, n)
SELECT building_id, month, count(*)
FROM recount WHERE building_id IS NOT NULL
GROUP BY 1, 2;

DELETE FROM stats_unit_month s
USING (SELECT DISTINCT unit_id, month FROM recount WHERE unit_id IS NOT NULL) r
WHERE s.unit_id = r.unit_id AND s.month = r.month;
INSERT INTO stats_unit_month (unit_id, month, n)
SELECT unit_id, month, count(*)
FROM recount WHERE unit_id IS NOT NULL
GROUP BY 1, 2;

DELETE FROM stats_handling_month s USING touched_months t
WHERE s.compound_id = t.compound_id AND s.month = t.month;
INSERT INTO stats_handling_month (compound_id, month, status, satisfaction, n)
SELECT compound_id, month, status, coalesce(satisfaction, ''), count(*)
FROM recount
GROUP BY 1, 2, 3, 4;

DELETE FROM stats_complaint_hours s USING touched_months t
WHERE s.compound_id = t.compound_id AND s.month = t.month;
INSERT INTO stats_complaint_hours (compound_id, month, response_h, closing_h)
SELECT compound_id, month,
       CASE WHEN responded_at IS NOT NULL
            THEN (greatest(0, extract(epoch FROM responded_at - received_at))::float8 / 3600.0)::real END,
       CASE WHEN closed_at IS NOT NULL
            THEN (greatest(0, extract(epoch FROM closed_at - received_at))::float8 / 3600.0)::real END
FROM recount
WHERE responded_at IS NOT NULL OR closed_at IS NOT NULL;

DELETE FROM stats_compound_clock s USING touched_months t
WHERE s.compound_id = t.compound_id AND s.month = t.month;
INSERT INTO stats_compound_clock (compound_id, month, category, slot, n)
SELECT compound_id, month, category,
       ((extract(isodow FROM received_at)::int - 1) * 24 + extract(hour FROM received_at)::int)::smallint,
       count(*)
FROM recount
GROUP BY 1, 2, 3, 4;

CREATE TEMP TABLE repeat_months ON COMMIT DROP AS
SELECT DISTINCT t.compound_id, (t.month + k * interval '1 month')::date AS month
FROM touched_months t, generate_series(0, 9) AS k;
ANALYZE repeat_months;
DELETE FROM stats_compound_repeats s USING repeat_months r
WHERE s.compound_id = r.compound_id AND s.month = r.month;
INSERT INTO stats_compound_repeats (compound_id, month, category, is_unit, place_id, gap, n)
SELECT g.compound_id, g.month, g.category, g.is_unit, g.place_id, g.gap, count(*)
FROM (
    -- Each re-tabled compound's complaints from 256 days before its first re-tabled month:
    -- the earlier ones only as the complaint before a re-tabled one.
    SELECT c.compound_id, date_trunc('month', c.received_at)::date AS month, c.category,
           c.unit_id IS NOT NULL AS is_unit, coalesce(c.unit_id, c.building_id) AS place_id,
           least(255, coalesce(c.received_at::date - lag(c.received_at::date) OVER (
               PARTITION BY c.compound_id, c.unit_id IS NOT NULL, coalesce(c.unit_id, c.building_id), c.category
               ORDER BY c.received_at), 255))::smallint AS gap
    FROM (SELECT compound_id, min(month) - 256 AS since, max(month) + interval '1 month' AS until
          FROM repeat_months GROUP BY compound_id) s
    JOIN complaints c ON c.compound_id = s.compound_id
                     AND c.received_at >= s.since AND c.received_at < s.until
    WHERE coalesce(c.unit_id, c.building_id) IS NOT NULL
) g
JOIN repeat_months r ON r.compound_id = g.compound_id AND r.month = g.month
GROUP BY 1, 2, 3, 4, 5, 6;
