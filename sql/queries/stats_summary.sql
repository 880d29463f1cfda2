-- First and last month and the unplaced complaints, each through its index.
SELECT (SELECT min(received_at) FROM complaints)::date,
       (SELECT max(received_at) FROM complaints)::date,
       (SELECT count(*) FROM complaints WHERE compound_id IS NULL)
