-- When the hotline closed a ticket, as its export says (empty when it does not).
ALTER TABLE complaints ADD COLUMN IF NOT EXISTS closed_at timestamp;
