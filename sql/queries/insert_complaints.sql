-- Store the staged complaints that are new (repeats were removed from the stage first).
INSERT INTO complaints (ticket_id, received_at, category, channel, address, lon, lat, status,
                        satisfaction, compound_id, building_id, unit_id, match_method, unmatched_reason,
                        closed_at, responded_at)
SELECT ticket_id, received_at, category, channel, address, lon, lat, status,
       satisfaction, compound_id, building_id, unit_id, match_method, unmatched_reason, closed_at,
       responded_at
FROM stage_complaints;
