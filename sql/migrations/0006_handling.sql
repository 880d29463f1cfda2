-- How the hotline handled its tickets (issue 16, the three rates): when it first responded,
-- as its export says; per compound and month the tickets by status and rating as the export
-- words them (the server reads the words through its [handling] scale, so a new scale needs
-- no re-import); and each placed ticket's hours to a first response and to closing.
ALTER TABLE complaints ADD COLUMN IF NOT EXISTS responded_at timestamp;

CREATE TABLE stats_handling_month (
    compound_id   bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    month         date NOT NULL,
    status        text NOT NULL,
    satisfaction  text NOT NULL,   -- '' when the export gave none
    n             integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (compound_id, month, status, satisfaction)
);

CREATE TABLE stats_complaint_hours (
    compound_id  bigint NOT NULL REFERENCES compounds (id) ON DELETE CASCADE,
    month        date NOT NULL,
    response_h   real,
    closing_h    real,
    CHECK (response_h IS NOT NULL OR closing_h IS NOT NULL)
);
CREATE INDEX stats_complaint_hours_compound_idx ON stats_complaint_hours (compound_id);

INSERT INTO stats_handling_month (compound_id, month, status, satisfaction, n)
SELECT compound_id, date_trunc('month', received_at)::date, status, coalesce(satisfaction, ''), count(*)
FROM complaints WHERE compound_id IS NOT NULL
GROUP BY 1, 2, 3, 4;

INSERT INTO stats_complaint_hours (compound_id, month, response_h, closing_h)
SELECT compound_id, date_trunc('month', received_at)::date, NULL,
       CASE WHEN closed_at IS NOT NULL
            THEN (greatest(0, extract(epoch FROM closed_at - received_at))::float8 / 3600.0)::real END
FROM complaints WHERE compound_id IS NOT NULL AND closed_at IS NOT NULL;
