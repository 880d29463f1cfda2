-- Every placed ticket's hours as one bytea: per row int8 compound id, int4 days of the month
-- from 2000-01-01, float4 hours to a first response and float4 hours to closing (NaN: none).
SELECT coalesce(string_agg(int8send(compound_id) || int4send(month - DATE '2000-01-01')
    || float4send(coalesce(response_h, 'NaN')) || float4send(coalesce(closing_h, 'NaN')), ''::bytea), ''::bytea)
FROM stats_complaint_hours
