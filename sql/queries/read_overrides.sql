SELECT compound_id, period, grade, reason, author, at FROM grade_overrides ORDER BY id
