-- A company list override; answers the company's compounds (announced as changed).
WITH added AS (
    INSERT INTO company_list_overrides (company_id, period, from_list, list, reason, author, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING company_id
)
SELECT c.id FROM compounds c JOIN added a ON c.company_id = a.company_id ORDER BY c.id
