-- Staged complaints already stored (by ticket) are not imported again.
DELETE FROM stage_complaints s USING complaints c WHERE s.ticket_id = c.ticket_id
