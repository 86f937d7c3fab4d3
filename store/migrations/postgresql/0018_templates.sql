-- Message templates (issue 20): a subscription's look. NULL is the default look ('full', as before this
-- migration); 'compact' is one line per model; anything else is a custom template naming fields
-- (`{id}`, `{rank}`, `{country_flag}`, …), checked when it is set.
ALTER TABLE destinations ADD COLUMN template TEXT;
