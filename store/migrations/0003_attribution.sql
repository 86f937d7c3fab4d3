-- Lineage learned from the Hub (model -> bases with their relation), so one base is looked up
-- once, not every poll; `looked_up_at` lets old answers be asked again.
CREATE TABLE lineage (
    hub_id        TEXT    PRIMARY KEY COLLATE NOCASE,
    bases         TEXT    NOT NULL,              -- JSON [[base id, relation or null], ...]; [] = none / not found
    looked_up_at  TEXT    NOT NULL
);

-- An operator's country for a namespace or a model id (`python -m bot label`), used like a config override.
CREATE TABLE attribution_labels (
    target      TEXT    PRIMARY KEY COLLATE NOCASE,  -- 'org' or 'org/name', lower case
    country     TEXT    NOT NULL,
    labelled_by TEXT    NOT NULL,
    labelled_at TEXT    NOT NULL
);

-- Which attribution data (tables, overrides, labels, rule) the stored entries were last attributed with.
CREATE TABLE attribution_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    version          TEXT,
    reattributed_at  TEXT
);
INSERT INTO attribution_state (id) VALUES (1);
