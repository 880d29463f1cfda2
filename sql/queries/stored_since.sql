-- Whether any stored complaint of a compound falls on or after the first month an import
-- adds to it ($1 the compounds, $2 the first day of each one's first new month). When none
-- does, the import only appends: its months held nothing before it, and their statistics are
-- its own complaints' alone (tabled in Rust, `store::postgis::tally`).
SELECT EXISTS (
    SELECT 1
    FROM unnest($1::int8[], $2::date[]) AS t(compound_id, since)
    WHERE EXISTS (SELECT 1 FROM complaints c
                  WHERE c.compound_id = t.compound_id AND c.received_at >= t.since)
)
