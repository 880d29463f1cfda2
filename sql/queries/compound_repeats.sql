-- The compounds' repeats table as one bytea: per row int8 compound id, int4 days of the month
-- from 2000-01-01, int4 count, int2 position of the category in $1 (0 when not there), int2
-- gap (0–255), int2 kind of place (0 building, 1 unit), int8 place id.
SELECT coalesce(string_agg(int8send(compound_id)
    || int4send(month - DATE '2000-01-01') || int4send(n)
    || int2send(coalesce(array_position($1::text[], category), 0)::int2)
    || int2send(gap) || int2send(is_unit::int::int2) || int8send(place_id), ''::bytea), ''::bytea)
FROM stats_compound_repeats
