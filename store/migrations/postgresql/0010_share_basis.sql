-- A channel's share rule decides on a basis (issue 18), as a configured `[[share_rules]] basis` does:
-- 'top_n' (the share over the whole top N, unknown entries included: every rule before this migration),
-- 'known' (over the entries whose country is known) or 'certain' (only what the unknown entries cannot
-- change). One rule per country, direction and threshold as before; adding it again with another basis
-- changes its basis, and its stored state starts again from a baseline (its key names the basis).

ALTER TABLE channel_rules ADD COLUMN basis TEXT NOT NULL DEFAULT 'top_n'
    CHECK (basis IN ('top_n', 'known', 'certain'));
