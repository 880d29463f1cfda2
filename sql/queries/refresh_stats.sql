-- Recompute the monthly statistics of the compounds in temp table `touched`.
DELETE FROM stats_compound_month WHERE compound_id IN (SELECT compound_id FROM touched);
INSERT INTO stats_compound_month (compound_id, month, category, n)
SELECT compound_id, date_trunc('month', received_at)::date, category, count(*)
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched)
GROUP BY 1, 2, 3;

DELETE FROM stats_building_month
WHERE building_id IN (SELECT b.id FROM buildings b JOIN touched t USING (compound_id));
INSERT INTO stats_building_month (building_id, month, n)
SELECT building_id, date_trunc('month', received_at)::date, count(*)
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched) AND building_id IS NOT NULL
GROUP BY 1, 2;

DELETE FROM stats_unit_month
WHERE unit_id IN (SELECT u.id FROM units u JOIN buildings b ON b.id = u.building_id JOIN touched t USING (compound_id));
INSERT INTO stats_unit_month (unit_id, month, n)
SELECT unit_id, date_trunc('month', received_at)::date, count(*)
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched) AND unit_id IS NOT NULL
GROUP BY 1, 2;

DELETE FROM stats_handling_month WHERE compound_id IN (SELECT compound_id FROM touched);
INSERT INTO stats_handling_month (compound_id, month, status, satisfaction, n)
SELECT compound_id, date_trunc('month', received_at)::date, status, coalesce(satisfaction, ''), count(*)
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched)
GROUP BY 1, 2, 3, 4;

DELETE FROM stats_complaint_hours WHERE compound_id IN (SELECT compound_id FROM touched);
INSERT INTO stats_complaint_hours (compound_id, month, response_h, closing_h)
SELECT compound_id, date_trunc('month', received_at)::date,
       CASE WHEN responded_at IS NOT NULL
            THEN (greatest(0, extract(epoch FROM responded_at - received_at))::float8 / 3600.0)::real END,
       CASE WHEN closed_at IS NOT NULL
            THEN (greatest(0, extract(epoch FROM closed_at - received_at))::float8 / 3600.0)::real END
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched)
  AND (responded_at IS NOT NULL OR closed_at IS NOT NULL);

DELETE FROM stats_compound_clock WHERE compound_id IN (SELECT compound_id FROM touched);
INSERT INTO stats_compound_clock (compound_id, month, category, slot, n)
SELECT compound_id, date_trunc('month', received_at)::date, category,
       ((extract(isodow FROM received_at)::int - 1) * 24 + extract(hour FROM received_at)::int)::smallint,
       count(*)
FROM complaints WHERE compound_id IN (SELECT compound_id FROM touched)
GROUP BY 1, 2, 3, 4;

DELETE FROM stats_compound_repeats WHERE compound_id IN (SELECT compound_id FROM touched);
INSERT INTO stats_compound_repeats (compound_id, month, category, is_unit, place_id, gap, n)
SELECT compound_id, month, category, is_unit, place_id, gap, count(*)
FROM (
    SELECT compound_id, date_trunc('month', received_at)::date AS month, category,
           unit_id IS NOT NULL AS is_unit, coalesce(unit_id, building_id) AS place_id,
           least(255, coalesce(received_at::date - lag(received_at::date) OVER (
               PARTITION BY compound_id, unit_id IS NOT NULL, coalesce(unit_id, building_id), category
               ORDER BY received_at), 255))::smallint AS gap
    FROM complaints
    WHERE compound_id IN (SELECT compound_id FROM touched)
      AND coalesce(unit_id, building_id) IS NOT NULL
) g
GROUP BY 1, 2, 3, 4, 5, 6;
