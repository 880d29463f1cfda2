-- A complaint import re-tables the months it touched (refresh_stats.sql): the hours of a
-- compound's month are found by compound and month.
CREATE INDEX IF NOT EXISTS stats_complaint_hours_compound_month_idx
    ON stats_complaint_hours (compound_id, month);
DROP INDEX IF EXISTS stats_complaint_hours_compound_idx;
