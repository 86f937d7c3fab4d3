-- Several trending lists (issue 12). Every existing snapshot belongs to the default list, `models`.
ALTER TABLE snapshots ADD COLUMN list TEXT NOT NULL DEFAULT 'models';
-- Today's queries (latest, a window of time) now ask for one list: this index answers them as
-- `snapshots_by_time` did before.
CREATE INDEX snapshots_by_list_time ON snapshots (list, taken_at, id);

-- Entries of the other lists (Spaces, datasets, filtered model lists). The default list keeps `entries`
-- and `models`, so its per-model history (cooldowns, /model, lineage) is not mixed with another list's.
CREATE TABLE list_entries (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    rank            INTEGER NOT NULL,
    item_id         TEXT    NOT NULL,
    likes           INTEGER,
    downloads       INTEGER,
    trending_score  REAL,
    pipeline_tag    TEXT,
    library_name    TEXT,                    -- a Space's SDK
    tags            TEXT    NOT NULL DEFAULT '[]',
    country         TEXT    NOT NULL,
    country_method  TEXT    NOT NULL,
    country_via     TEXT,
    PRIMARY KEY (snapshot_id, rank)
) WITHOUT ROWID;

-- Per list and item: what the rules remember between polls (re-entry cooldown, new #1, first seen).
CREATE TABLE list_items (
    list          TEXT    NOT NULL,
    item_id       TEXT    NOT NULL,
    first_seen    TEXT    NOT NULL,
    last_seen     TEXT    NOT NULL,
    best_rank     INTEGER NOT NULL,
    last_in_top   TEXT,
    last_led      TEXT,
    PRIMARY KEY (list, item_id)
) WITHOUT ROWID;

-- Source health of the other lists; the default list keeps `source_health`.
CREATE TABLE list_health (
    list               TEXT    PRIMARY KEY,
    failures           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_failure_at    TEXT,
    last_success_at    TEXT,
    failing_announced  INTEGER NOT NULL DEFAULT 0
);

-- A channel's filters (config `[[routes]]` or `/alerts filter`); no row = hear the default list, unfiltered.
CREATE TABLE channel_filters (
    destination_id  INTEGER PRIMARY KEY REFERENCES destinations (id) ON DELETE CASCADE,
    lists           TEXT    NOT NULL DEFAULT '["models"]',   -- JSON lists of names / codes / tags / namespaces
    countries       TEXT    NOT NULL DEFAULT '[]',
    tasks           TEXT    NOT NULL DEFAULT '[]',
    authors         TEXT    NOT NULL DEFAULT '[]',
    derivatives     INTEGER NOT NULL DEFAULT 1,
    updated_at      TEXT    NOT NULL
);

-- Watches a channel added with `/alerts watch` (config `[[watch]]` are read from the config each poll).
CREATE TABLE channel_watches (
    id              INTEGER PRIMARY KEY,
    destination_id  INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    target_kind     TEXT    NOT NULL CHECK (target_kind IN ('author', 'model')),
    target          TEXT    NOT NULL COLLATE NOCASE,
    list            TEXT    NOT NULL DEFAULT 'models',
    created_at      TEXT    NOT NULL,
    UNIQUE (destination_id, target_kind, target, list)
);
