-- Staged tickets already stored: `same` when the content is the same (a repeat), else a conflict.
SELECT s.ticket_id,
       (c.received_at, c.category, c.channel, c.address, c.lon, c.lat, c.status, c.satisfaction, c.closed_at, c.responded_at)
       IS NOT DISTINCT FROM
       (s.received_at, s.category, s.channel, s.address, s.lon, s.lat, s.status, s.satisfaction, s.closed_at, s.responded_at) AS same
FROM stage_complaints s JOIN complaints c USING (ticket_id)
