-- The audit trails of manual grades and of the companies' list standings outlive what they
-- speak of, as the embedded store's override files do: a compound or company deleted by hand
-- (no import deletes any) no longer takes its overrides with it. Readers match overrides to
-- the geography they hold and pass over the rest.
ALTER TABLE grade_overrides DROP CONSTRAINT IF EXISTS grade_overrides_compound_id_fkey;
ALTER TABLE company_list_overrides DROP CONSTRAINT IF EXISTS company_list_overrides_company_id_fkey;
