-- The first of an import's compounds ($1), buildings ($2) and units ($3) — each id once — that
-- the geography does not hold, as its layer and id (none: every place is known). Checked once
-- for the whole import, in place of a foreign-key trigger per row.
(SELECT 'compound' AS layer, x AS id FROM unnest($1::int8[]) AS x
 WHERE NOT EXISTS (SELECT 1 FROM compounds c WHERE c.id = x) LIMIT 1)
UNION ALL
(SELECT 'building', x FROM unnest($2::int8[]) AS x
 WHERE NOT EXISTS (SELECT 1 FROM buildings b WHERE b.id = x) LIMIT 1)
UNION ALL
(SELECT 'unit', x FROM unnest($3::int8[]) AS x
 WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.id = x) LIMIT 1)
LIMIT 1
