SELECT count(*) FROM stage_complaints
