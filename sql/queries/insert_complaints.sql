-- Store the staged complaints that are new (repeats were removed from the stage first).
INSERT INTO complaints (ticket_id, received_at, category, channel, address, lon, lat, status,
                        satisfaction, compound_id, building_id, unit_id, match_method, unmatched_reason,
                        closed_at, responded_at)
SELECT ticket_id, received_at, category, channel, address, lon, lat, status,
       satisfaction, compound_id, building_id, unit_id, match_method, unmatched_reason, closed_at,
       responded_at
FROM stage_complaints;
INSERT INTO private.complaint_contacts (ticket_id, caller_name, caller_phone, content)
SELECT ct.ticket_id, ct.caller_name, ct.caller_phone, ct.content
FROM stage_contacts ct JOIN stage_complaints s USING (ticket_id);
CREATE TEMP TABLE touched_months ON COMMIT DROP AS
SELECT DISTINCT compound_id, date_trunc('month', received_at)::date AS month
FROM stage_complaints WHERE compound_id IS NOT NULL;
