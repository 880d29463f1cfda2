SELECT
    (SELECT count(*) FROM districts)  AS districts,
    (SELECT count(*) FROM streets)    AS streets,
    (SELECT count(*) FROM companies)  AS companies,
    (SELECT count(*) FROM compounds)  AS compounds,
    (SELECT count(*) FROM buildings)  AS buildings,
    (SELECT count(*) FROM units)      AS units,
    (SELECT coalesce(sum(households), 0)::bigint FROM compounds) AS households,
    (SELECT count(*) FROM complaints) AS complaints
