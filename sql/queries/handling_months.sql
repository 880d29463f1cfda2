-- The compounds' handling per month as one bytea, the export's words read through the scale
-- ($1 closed statuses, $2 satisfied ratings, $3 not satisfied ones, all trimmed): per row
-- int8 compound id, int4 days of the month from 2000-01-01, int4 closed, int4 rated, int4
-- satisfied.
SELECT coalesce(string_agg(int8send(compound_id) || int4send(month - DATE '2000-01-01')
    || int4send(closed) || int4send(rated) || int4send(satisfied), ''::bytea), ''::bytea)
FROM (
    SELECT compound_id, month,
           coalesce(sum(n) FILTER (WHERE btrim(status) = ANY ($1::text[])), 0)::int AS closed,
           coalesce(sum(n) FILTER (WHERE btrim(satisfaction) = ANY ($2::text[])
                                      OR btrim(satisfaction) = ANY ($3::text[])), 0)::int AS rated,
           coalesce(sum(n) FILTER (WHERE btrim(satisfaction) = ANY ($2::text[])), 0)::int AS satisfied
    FROM stats_handling_month
    GROUP BY 1, 2
) h
