-- The property companies' red and black list overrides (the audit trail): who set which
-- standing for a company and quarter, when, why, and the standing it replaced. The lists
-- themselves are computed from the grades (analytics::company_list), like the grades.
CREATE TABLE company_list_overrides (
    id          bigserial PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    period      text NOT NULL CHECK (period ~ '^[0-9]{4}Q[1-4]$'),
    from_list   text NOT NULL CHECK (from_list IN ('black', 'red', 'none')),
    list        text NOT NULL CHECK (list IN ('black', 'red', 'none')),
    reason      text NOT NULL CHECK (reason <> ''),
    author      text NOT NULL CHECK (author <> ''),
    at          timestamp NOT NULL DEFAULT now()
);
CREATE INDEX company_list_overrides_company_idx ON company_list_overrides (company_id, period);
