-- The building-month table as one bytea: int8 id, int4 days from 2000-01-01, int4 count.
SELECT coalesce(string_agg(int8send(building_id)
    || int4send(month - DATE '2000-01-01') || int4send(n), ''::bytea), ''::bytea)
FROM stats_building_month
