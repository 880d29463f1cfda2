-- The first staged complaint whose compound, building or unit the geography does not hold,
-- named (none: every place is known). Checked once for the whole stage, in place of a
-- foreign-key trigger per row.
(SELECT format('complaint %s names compound %s, which the geography does not hold', s.ticket_id, s.compound_id)
 FROM stage_complaints s
 WHERE s.compound_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM compounds c WHERE c.id = s.compound_id)
 LIMIT 1)
UNION ALL
(SELECT format('complaint %s names building %s, which the geography does not hold', s.ticket_id, s.building_id)
 FROM stage_complaints s
 WHERE s.building_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM buildings b WHERE b.id = s.building_id)
 LIMIT 1)
UNION ALL
(SELECT format('complaint %s names unit %s, which the geography does not hold', s.ticket_id, s.unit_id)
 FROM stage_complaints s
 WHERE s.unit_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM units u WHERE u.id = s.unit_id)
 LIMIT 1)
LIMIT 1
