INSERT INTO grade_overrides (compound_id, period, grade, reason, author, at)
VALUES ($1, $2, $3, $4, $5, $6)
