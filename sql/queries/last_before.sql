-- The last stored complaint of each place (unit, else building) and category in the 256 days
-- before an appending import's first new month of its compound ($1 the compounds, $2 those
-- months' first days): where the gaps of the import's first repeats start. An earlier one
-- would give a gap of 255 (none), as no complaint at all does.
SELECT DISTINCT ON (c.compound_id, c.unit_id IS NOT NULL, coalesce(c.unit_id, c.building_id), c.category)
       c.compound_id, c.unit_id IS NOT NULL AS is_unit, coalesce(c.unit_id, c.building_id) AS place_id,
       c.category, c.received_at::date AS day
FROM unnest($1::int8[], $2::date[]) AS t(compound_id, since)
JOIN complaints c ON c.compound_id = t.compound_id
                 AND c.received_at >= t.since - 256 AND c.received_at < t.since
WHERE coalesce(c.unit_id, c.building_id) IS NOT NULL
ORDER BY c.compound_id, c.unit_id IS NOT NULL, coalesce(c.unit_id, c.building_id), c.category,
         c.received_at DESC
