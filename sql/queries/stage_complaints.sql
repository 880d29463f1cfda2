CREATE TEMP TABLE stage_complaints (
    ticket_id text, received_at timestamp, category text, channel text, address text,
    lon double precision, lat double precision, status text, satisfaction text,
    compound_id bigint, building_id bigint, unit_id bigint, match_method text, unmatched_reason text,
    closed_at timestamp, responded_at timestamp
) ON COMMIT DROP;
